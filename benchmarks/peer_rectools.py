"""RecStudio's SASRec beside RecTools' SASRecModel, on the same data, the same split, the same machine.

    python benchmarks/peer_rectools.py                    # full runs: both train until early stopping
    python benchmarks/peer_rectools.py --quick            # RecTools bounded to 20 epochs
    python benchmarks/peer_rectools.py --json             # ... and a last line of JSON
    python benchmarks/peer_rectools.py --dataset sample   # the bundled purchases log instead of ml-100k

RecTools goes into its own virtual environment (made on first use, by default under
~/.cache/recstudio-bench/rectools-venv): `pip install torch==2.13.0` first (this machine's CPU build),
then `pip install "rectools[torch]==0.19.0"` (its torch requirement, >=1.6,<3, accepts that torch; the
extra brings pytorch-lightning 2.5.2). It is never one of RecStudio's dependencies.

Same split for both: the log is imported once by RecStudio (duplicates dropped, events ordered by time
with ties in file order) and RecTools is handed that event order (each event's time is its position in
its user's sequence). RecTools then splits it itself the way its guides do: `LastNSplitter(n=1)` holds out
each user's last event for the test, and a validation mask (`get_val_mask_func`) holds out the last event
left. Users too short for RecStudio to evaluate (under three events) stay whole in training. The script
checks that every user's validation and test item are identical on both sides before it reports.

Same architecture: hidden 64, 2 layers, 2 heads, history 50. Each side trains at its own recommended
settings for SASRec with full softmax (cross-entropy over every item): RecTools' SASRecModel defaults,
which are its "SASRec+" recipe (loss softmax, Adam lr 1e-3 with betas 0.9/0.98, batch 128, dropout 0.2,
Xavier-normal initialisation, the last session_max_len+1 events of each user as one training sequence),
id embeddings only, up to 200 epochs (its public benchmark's count) with early stopping on validation
NDCG@10 (patience 10, as ours) through a Lightning callback, the way its advanced training guide
does; RecStudio's defaults (loss=full, batch 128, lr 1e-3, patience 10). Both validate with each user's
history left out of the ranking (RecTools' benchmarks filter seen items; so does RecStudio) and are
tested at their best validation epoch, on both protocols: seen items ranked, and seen items left out.
Every item new to training counts as a miss for RecTools (it cannot score items it never saw).

"Seconds to the best validation score" is wall time from the start of fitting (RecTools' includes its
data preparation; our extra scoring of seen-ranked validation is left out of ours). The speed-up is
RecTools' time to its best validation NDCG@10 over ours to reach that same score.
A benchmark, not a test: it prints, and it asserts nothing but the identical split.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/peer_rectools.py
    import common

PEER = "RecTools 0.19.0"
DEFAULT_VENV = common.PEER_CACHE / "rectools-venv"
INSTALL = [["torch==2.13.0"], ["rectools[torch]==0.19.0"]]
PROBE = "import torch, pytorch_lightning; from rectools.models import SASRecModel"
EPOCHS, QUICK_EPOCHS, PATIENCE = 200, 20, 10

# Runs inside RecTools' venv: split the log, train SASRecModel with a callback that scores every
# validation on both protocols and keeps the best epoch's weights, test those, write JSON.
DRIVER = r'''
import copy, json, math, sys, time
import numpy as np
import pandas as pd
import torch
from pytorch_lightning import Callback, Trainer, seed_everything
from pytorch_lightning.callbacks import EarlyStopping
from rectools import Columns
from rectools.dataset import Dataset
from rectools.model_selection import LastNSplitter
from rectools.models import SASRecModel
from rectools.models.nn.item_net import IdEmbeddingsItemNet

args = json.loads(sys.argv[1])
seed_everything(args["seed"], workers=True)
events = pd.read_csv(args["events"], dtype={"user": str, "item": str})
log = pd.DataFrame({Columns.User: events["user"], Columns.Item: events["item"], Columns.Weight: 1.0,
                    Columns.Datetime: pd.to_datetime(events["position"], unit="s")})
length = log.groupby(Columns.User)[Columns.User].transform("size")
splitter = LastNSplitter(n=1, n_splits=1, filter_cold_users=False, filter_cold_items=False,
                         filter_already_seen=False)
train_at, test_at, _ = next(splitter.split(Dataset.construct(log).interactions))
keep = length.iloc[test_at].to_numpy() >= args["min_events"]  # shorter users are not evaluated
train = log.iloc[np.sort(np.concatenate([train_at, test_at[~keep]]))].reset_index(drop=True)
test = log.iloc[test_at[keep]]
EVALUATED = set(test[Columns.User])


def last_event_of_evaluated(interactions):
    newest = interactions.sort_values(Columns.Datetime, ascending=False, kind="stable").groupby(
        Columns.User, sort=False).cumcount()
    return ((newest == 0) & interactions[Columns.User].isin(EVALUATED)).to_numpy()


valid = train[last_event_of_evaluated(train)]
n_valid = len(valid)


class BothProtocols(Callback):
    """Validation HR/NDCG/MRR@10 with seen items ranked and left out; the best epoch's weights."""

    def __init__(self, select):
        self.select, self.curve, self.best_state, self.start = select, [], None, None

    def on_validation_epoch_start(self, trainer, module):
        self.sums = np.zeros((2, 3))

    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
        logits = outputs["logits"].detach().float().reshape(len(batch["y"]), -1)
        want = batch["y"][:, -1].to(logits.device).long()
        for row, seen in enumerate((None, batch["x"].to(logits.device).long())):
            s = logits.clone()
            s[:, : len(module.item_extra_tokens)] = -math.inf  # the padding token is no item
            if seen is not None:
                s.scatter_(1, seen, -math.inf)
            above = (s > s.gather(1, want[:, None])).sum(1).double()
            inside = (above < 10).double()
            self.sums[row] += [float(inside.sum()), float((inside / torch.log2(above + 2)).sum()),
                               float((inside / (above + 1)).sum())]

    def on_validation_epoch_end(self, trainer, module):
        ranked, excluded = self.sums[:, 1] / max(n_valid, 1)  # items new to training: misses
        point = {"epoch": trainer.current_epoch + 1, "seconds": time.perf_counter() - self.start,
                 "ranked": float(ranked), "excluded": float(excluded)}
        improved = not self.curve or point[self.select] > max(v[self.select] for v in self.curve)
        self.curve.append(point)
        if improved:
            self.best_state = copy.deepcopy(module.torch_model.state_dict())
        module.log("NDCG@10", point[self.select])
        print(f"  rectools epoch {point['epoch']} ({point['seconds']:.0f} s): valid NDCG@10 {excluded:.4f} "
              f"seen left out, {ranked:.4f} seen ranked{' *' if improved else ''}", flush=True)


watch = BothProtocols(args["select"])
cuda = args["device"].startswith("cuda")


def trainer():
    return Trainer(accelerator="gpu" if cuda else "cpu", devices=1, min_epochs=1, max_epochs=args["epochs"],
                   num_sanity_val_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False,
                   callbacks=[watch, EarlyStopping(monitor="NDCG@10", mode="max", patience=args["patience"])])


arch = args["arch"]
model = SASRecModel(n_factors=arch["hidden"], n_blocks=arch["layers"], n_heads=arch["heads"],
                    session_max_len=arch["max_len"], item_net_block_types=(IdEmbeddingsItemNet,),
                    get_val_mask_func=last_event_of_evaluated, get_trainer_func=trainer,
                    recommend_torch_device=args["device"])
dataset = Dataset.construct(train)
watch.start = time.perf_counter()
model.fit(dataset)
seconds = time.perf_counter() - watch.start
sequences = int(model.data_preparator.train_dataset.interactions.df[Columns.User].nunique())
watch = next(c for c in model.fit_trainer.callbacks if isinstance(c, BothProtocols))  # fit trains a deep copy
model.lightning_model.torch_model.load_state_dict(watch.best_state)

tests = {}
truth = test[[Columns.User, Columns.Item]]
for name, filter_viewed in (("ranked", False), ("excluded", True)):
    top = model.recommend(users=truth[Columns.User].unique(), dataset=dataset, k=10, filter_viewed=filter_viewed,
                          on_unsupported_targets="warn")
    hit = truth.merge(top, on=[Columns.User, Columns.Item], how="left")[Columns.Rank].to_numpy(float)
    found = ~np.isnan(hit)
    tests[name] = {"HR@10": float(found.mean()), "NDCG@10": float((1 / np.log2(hit[found] + 1)).sum() / len(hit)),
                   "MRR@10": float((1 / hit[found]).sum() / len(hit))}
known = set(model.data_preparator.item_id_map.external_ids)
json.dump({"validations": watch.curve, "seconds": seconds, "train_sequences": sequences, "test": tests,
           "test_items": dict(zip(test[Columns.User], test[Columns.Item])),
           "valid_items": dict(zip(valid[Columns.User], valid[Columns.Item])),
           "cold_test_items": int((~test[Columns.Item].isin(known)).sum()),
           "cold_valid_items": int((~valid[Columns.Item].isin(known)).sum())}, open(args["out"], "w"))
'''


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"bound RecTools to {QUICK_EPOCHS} epochs (ours trains as usual)")
    p.add_argument("--peer-epochs", type=int, help=f"RecTools' epoch limit (default {EPOCHS}; {QUICK_EPOCHS} with --quick)")
    p.add_argument("--dataset", choices=("ml-100k", "sample"), default="ml-100k",
                   help="ml-100k (../shared/datasets) or the bundled sample purchases log")
    p.add_argument("--venv", default=str(DEFAULT_VENV), help="RecTools' virtual environment")
    p.add_argument("--json", action="store_true", help="print one line of JSON last")
    p.add_argument("--device", default="cpu", help="cpu or cuda (both sides)")
    args = p.parse_args(argv)
    if args.peer_epochs is not None and args.peer_epochs < 1:
        p.error("--peer-epochs takes a positive number")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    log = common.peer_data(args.dataset)
    if not log.exists():
        print(f"No {log}.", file=sys.stderr)
        return 2
    epochs = args.peer_epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    python = common.peer_python(args.venv, INSTALL, PROBE, PEER)
    with tempfile.TemporaryDirectory(prefix="peer-rectools-") as tmp:
        tmp = Path(tmp)
        dataset, split = common.imported(log, tmp)
        common.write_events(dataset, tmp / "events.csv")
        common.progress(f"{PEER}: SASRecModel, up to {epochs} epochs…")
        theirs = common.run_driver(python, DRIVER, {
            "events": str(tmp / "events.csv"), "out": str(tmp / "result.json"), "seed": 42, "min_events": 3,
            "arch": common.PEER_ARCH, "epochs": epochs, "patience": PATIENCE, "select": "excluded",
            "device": args.device}, tmp, "rectools")
        for part, cases in (("test", split.test), ("valid", split.valid)):
            differ = common.split_mismatch(common.held_out(dataset, cases), theirs[f"{part}_items"])
            if differ or len(theirs[f"{part}_items"]) != len(cases.users):
                print(f"The {part} items differ for {differ} of {len(cases.users)} users; no comparison.",
                      file=sys.stderr)
                return 1
        common.progress(f"same split: all {len(split.test.users):,} users have the same validation and test item "
                        "on both sides")
        common.progress("RecStudio: SASRec with its defaults…")
        ours = common.train_beside_peer(dataset, split, args.device)

    print()
    print(common.command_line() + ("   (--quick: RecTools bounded to "
                                   f"{epochs} epochs)" if args.quick else ""))
    print(common.machine_line() + f", device {args.device}")
    print(f"data: {args.dataset}, {dataset.n_users:,} users, {dataset.n_items:,} items; leave-one-out by time, "
          f"identical validation and test items; full ranking over all items; {theirs['cold_test_items']} test "
          f"and {theirs['cold_valid_items']} validation items new to training (misses for RecTools)")
    figures = common.peer_report(PEER, "rectools", ours, theirs)
    if args.json:
        print(json.dumps({**figures, "dataset": args.dataset, "quick": args.quick}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
