"""Every metric against numbers worked out by hand."""

import math

import numpy as np
import pytest
import torch

from recstudio.evaluation import (
    arp_ratio,
    average_popularity,
    coverage,
    hit_rate,
    intra_list_diversity,
    mrr,
    ndcg,
    novelty,
    target_ranks,
    top_k,
)

RANKS = np.array([0, 1, 4, 5, 20])


def test_hit_rate_counts_rank_k_minus_1_but_not_k():
    # k=5: ranks 0, 1, 4 are < 5; 5 and 20 are not -> 3/5
    assert hit_rate(RANKS, 5) == pytest.approx(0.6)
    # k=1: only rank 0 -> 1/5
    assert hit_rate(RANKS, 1) == pytest.approx(0.2)
    # k=6: rank 5 now counts -> 4/5
    assert hit_rate(RANKS, 6) == pytest.approx(0.8)


def test_ndcg_single_relevant_item():
    # k=5: 1/log2(2) + 1/log2(3) + 1/log2(6) = 1 + 0.6309298 + 0.3868528 = 2.0177826; / 5
    assert ndcg(RANKS, 5) == pytest.approx(2.0177826 / 5, abs=1e-6)
    # k=1: only rank 0 contributes 1/log2(2) = 1; / 5
    assert ndcg(RANKS, 1) == pytest.approx(0.2)


def test_mrr_cut_at_k():
    # k=5: 1/1 + 1/2 + 1/5 = 1.7; / 5 = 0.34
    assert mrr(RANKS, 5) == pytest.approx(0.34)
    # k=21: adds 1/6 + 1/21 -> (1.7 + 0.1666667 + 0.0476190) / 5
    assert mrr(RANKS, 21) == pytest.approx((1.7 + 1 / 6 + 1 / 21) / 5)


def test_accuracy_of_no_cases_is_zero():
    empty = np.array([], dtype=np.int64)
    assert hit_rate(empty, 10) == ndcg(empty, 10) == mrr(empty, 10) == 0.0


def test_ties_are_pessimistic():
    scores = torch.tensor([[3.0, 5.0, 5.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    # row 0, target 1 (score 5): nobody higher, item 2 ties -> rank 0 + 1 = 1
    # row 1, constant scores, target 0: the 3 other items tie -> rank 3 (last)
    assert target_ranks(scores, torch.tensor([1, 0])).tolist() == [1, 3]
    # row 0, target 0 (score 3): items 1 and 2 higher, no tie -> 2
    assert target_ranks(scores[:1], torch.tensor([0])).tolist() == [2]


def test_coverage_ignores_empty_slots():
    # items {0, 1, 2, 3} appear, -1 is an empty slot -> 4 of 10
    assert coverage(np.array([[0, 1, 2], [2, 3, -1]]), 10) == pytest.approx(0.4)
    assert coverage(np.zeros((0, 3), dtype=np.int64), 10) == 0.0


def test_novelty_is_mean_self_information():
    popularity = np.array([9, 4, 0, 1])
    # p = (count + 1) / (9 + 1) = [1.0, 0.5, 0.1, 0.2]; -log2 p = [0, 1, 3.3219281, 2.3219281]
    # list [0, 1] -> (0 + 1) / 2 = 0.5; list [2, 3] -> (3.3219281 + 2.3219281) / 2 = 2.8219281
    # mean over lists = (0.5 + 2.8219281) / 2 = 1.6609640
    assert novelty(np.array([[0, 1], [2, 3]]), popularity, n_users=9) == pytest.approx(1.6609640, abs=1e-6)
    # count 20 > 9 users (repeat purchases): p capped at 1 -> 0 bits, never negative
    assert novelty(np.array([[0]]), np.array([20]), n_users=9) == 0.0


def test_average_popularity_and_ratio():
    popularity = np.array([10, 2, 0, 4, 0, 2])  # catalogue mean = 18 / 6 = 3
    topk = np.array([[0, 1], [2, 3], [3, -1]])
    # per list: (10 + 2) / 2 = 6; (0 + 4) / 2 = 2; the lone 4 -> 4; mean = 12 / 3 = 4
    assert average_popularity(topk, popularity) == pytest.approx(4.0)
    # 4 / 3
    assert arp_ratio(topk, popularity) == pytest.approx(4 / 3)
    assert average_popularity(np.zeros((0, 2), dtype=np.int64), popularity) == 0.0


CATEGORIES = [frozenset("ab"), frozenset("bc"), frozenset("a"), frozenset(), frozenset("d")]


def test_intra_list_diversity_jaccard():
    # Jaccard distance = 1 - |A∩B| / |A∪B|
    # {a,b}-{b,c}: 1 - 1/3 = 2/3;  {a,b}-{a}: 1 - 1/2 = 1/2;  {b,c}-{a}: 1;  {a,b}-{d}: 1
    # list [0,1,2] -> (2/3 + 1/2 + 1) / 3 = 13/18
    # list [0,3,4] -> item 3 has no category, its pairs are skipped -> only (0,4) = 1
    # list [3,2,-1] -> no usable pair, list skipped
    # mean = (13/18 + 1) / 2 = 31/36
    topk = np.array([[0, 1, 2], [0, 3, 4], [3, 2, -1]])
    assert intra_list_diversity(topk, CATEGORIES) == pytest.approx(31 / 36)


def test_intra_list_diversity_identical_sets_is_zero():
    assert intra_list_diversity(np.array([[0, 0]]), CATEGORIES) == 0.0


def test_intra_list_diversity_none_without_anything_to_measure():
    topk = np.array([[0, 1, 2]])
    assert intra_list_diversity(topk, [frozenset()] * 3) is None
    assert intra_list_diversity(topk, None) is None
    assert intra_list_diversity(np.array([[0], [1]]), CATEGORIES) is None  # K = 1 has no pairs
    assert intra_list_diversity(np.array([[3, 3]]), CATEGORIES) is None  # only empty sets


def test_intra_list_diversity_cosine_when_no_categories():
    embeddings = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    # cos(0,1) = 0 -> 1;  cos(0,2) = cos(1,2) = 1/sqrt(2) -> 1 - 0.7071068 = 0.2928932
    # mean = (1 + 2 * 0.2928932) / 3 = 0.5285955
    expected = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    topk = np.array([[0, 1, 2]])
    assert intra_list_diversity(topk, item_embeddings=embeddings) == pytest.approx(expected)
    assert intra_list_diversity(topk, [frozenset()] * 3, item_embeddings=embeddings) == pytest.approx(expected)
    # categories, when the catalogue has any, win over embeddings: {a,b},{b,c},{a} -> 13/18
    assert intra_list_diversity(topk, CATEGORIES[:3], item_embeddings=embeddings) == pytest.approx(13 / 18)


def test_top_k_masks_and_pads():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]])
    indices, values = top_k(scores, 2, exclude=[np.array([1]), np.array([], dtype=np.int64)])
    assert indices.tolist() == [[3, 2], [0, 1]]
    assert values.flatten().tolist() == pytest.approx([0.7, 0.5, 0.4, 0.3])
    mask = torch.tensor([[False, True, True, True], [False] * 4])
    # row 0 has one rankable item; k=6 > 4 items: empty slots are -1 / -inf
    indices, values = top_k(scores, 6, exclude=mask)
    assert indices.tolist() == [[0, -1, -1, -1, -1, -1], [0, 1, 2, 3, -1, -1]]
    assert values[0, 1] == float("-inf")
    assert scores[0, 1] == pytest.approx(0.9)  # caller's tensor untouched
