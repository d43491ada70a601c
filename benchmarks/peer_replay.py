"""RecStudio's SASRec beside RePlay's SasRec, on the same data, the same split, the same machine.

    python benchmarks/peer_replay.py                    # full runs: both train until early stopping
    python benchmarks/peer_replay.py --quick            # RePlay bounded to 20 epochs
    python benchmarks/peer_replay.py --json             # ... and a last line of JSON
    python benchmarks/peer_replay.py --dataset sample   # the bundled purchases log instead of ml-100k

RePlay goes into its own virtual environment (made on first use, by default under
~/.cache/recstudio-bench/replay-venv): `pip install torch==2.13.0` first (this machine's CPU build), then
`pip install "replay-rec[torch]==0.22.0"` (it accepts that torch; the extra brings lightning 2.6). It is
never one of RecStudio's dependencies.

Same split for both, checked user by user: the log is imported once by RecStudio and RePlay is handed its
event order (time = position in the user's sequence); RePlay splits it itself with its `LastNSplitter`
(N=1, by interactions), once for the test and once more for the validation, as its SASRec examples do.
Users too short for RecStudio to evaluate (under three events) stay whole in training.

Same architecture: hidden 64, 2 layers, 2 heads, history 50. RePlay's side is its SasRec Lightning model
(`replay.models.nn.sequential.SasRec`, the one its SASRec example notebooks train; 0.22 marks its data
classes deprecated in favour of a new Parquet pipeline, and they still work) at its own defaults for the
rest: full cross-entropy (`loss_type="CE"`), dropout 0.2, Adam lr 1e-3 with betas 0.9/0.98
(`FatOptimizerFactory`), one training sequence per user (its last 51 events). Batch size is no RePlay
setting (its examples pick one per dataset); 128, as on the other sides. Its examples keep the epoch with
the best validation score with seen items removed (`RemoveSeenItems`) through a callback; here the same
callback idea scores NDCG@10 on both protocols after each epoch, keeps the best epoch's weights by the seen-
left-out score, and stops after 10 epochs without improvement (patience 10, as ours), up to 200 epochs.
Every item of the catalogue is ranked on both sides (RePlay's tokenizer is given the whole item list, as
its examples do); the best epoch is tested with seen items ranked and left out.

"Seconds to the best validation score" is wall time from the start of fitting; the speed-up is RePlay's time
to its best validation NDCG@10 over ours to reach that same score. A benchmark, not a test: it prints, and
it asserts nothing but the identical split.
"""

from __future__ import annotations

import sys

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/peer_replay.py
    import common

PEER = "RePlay 0.22.0"
DEFAULT_VENV = common.PEER_CACHE / "replay-venv"
INSTALL = [["torch==2.13.0"], ["replay-rec[torch]==0.22.0"]]
PROBE = "import torch, lightning; from replay.models.nn.sequential import SasRec"
EPOCHS, QUICK_EPOCHS, PATIENCE, BATCH = 200, 20, 10, 128

# Runs inside RePlay's venv: split, tokenize, train SasRec with a callback reading every validation on
# both protocols and keeping the best epoch's weights, test those, write JSON.
DRIVER = common.DRIVER_HELPERS + r'''
import warnings
warnings.filterwarnings("ignore")
import lightning as L
import pandas as pd
from torch.utils.data import DataLoader
from replay.data import Dataset, FeatureHint, FeatureInfo, FeatureSchema, FeatureSource, FeatureType
from replay.data.nn import SequenceTokenizer, SequentialDataset, TensorFeatureInfo, TensorFeatureSource, TensorSchema
from replay.models.nn.sequential import SasRec
from replay.models.nn.sequential.sasrec import SasRecTrainingDataset, SasRecValidationDataset
from replay.splitters import LastNSplitter

args = json.loads(sys.argv[1])
L.seed_everything(args["seed"], workers=True)
log = pd.read_csv(args["events"], dtype={"user": str, "item": str}).rename(
    columns={"user": "user_id", "item": "item_id", "position": "timestamp"})
splitter = LastNSplitter(N=1, divide_column="user_id", query_column="user_id", item_column="item_id",
                         timestamp_column="timestamp", strategy="interactions")
short = log.groupby("user_id")["user_id"].transform("size") < args["min_events"]  # not evaluated


def held_out(events):
    """RePlay's split of ``events`` into the history and each evaluated user's last event."""
    rest, last = splitter.split(events)
    back = last["user_id"].isin(set(log.loc[short, "user_id"]))
    return pd.concat([rest, last[back]]).sort_values(["user_id", "timestamp"]), last[~back]


before_test, test_gt = held_out(log)
train, valid_gt = held_out(before_test)
items = pd.DataFrame({"item_id": sorted(log["item_id"].unique())})  # the whole catalogue, as its examples do


def replay_dataset(frame, truth=False):
    features = [FeatureInfo(column="user_id", feature_hint=FeatureHint.QUERY_ID, feature_type=FeatureType.CATEGORICAL),
                FeatureInfo(column="item_id", feature_hint=FeatureHint.ITEM_ID, feature_type=FeatureType.CATEGORICAL)]
    if not truth:
        features.append(FeatureInfo(column="timestamp", feature_type=FeatureType.NUMERICAL,
                                    feature_hint=FeatureHint.TIMESTAMP))
    return Dataset(feature_schema=FeatureSchema(features), interactions=frame, item_features=items,
                   check_consistency=True, categorical_encoded=False)


schema = TensorSchema(TensorFeatureInfo(name="item_id_seq", feature_type=FeatureType.CATEGORICAL, is_seq=True,
                                        feature_hint=FeatureHint.ITEM_ID,
                                        feature_sources=[TensorFeatureSource(FeatureSource.INTERACTIONS, "item_id")]))
tokenizer = SequenceTokenizer(schema, allow_collect_to_master=True)
tokenizer.fit(replay_dataset(train))
seq_train = tokenizer.transform(replay_dataset(train))
seq_before_test = tokenizer.transform(replay_dataset(before_test))


def cases(inputs, truth):
    gt = tokenizer.transform(replay_dataset(truth, truth=True), [schema.item_id_feature_name])
    inputs, gt = SequentialDataset.keep_common_query_ids(inputs, gt)
    return SasRecValidationDataset(inputs, gt, inputs, max_sequence_length=args["arch"]["max_len"])


def read(curve, module, scores, batch):
    """Score one batch of cases; its ``train`` holds each user's whole history (padded with negatives)."""
    history = batch["train"].cpu()
    seen = torch.zeros(scores.shape, dtype=torch.bool)
    rows = torch.arange(len(history))[:, None].expand_as(history)
    seen[rows[history >= 0], history[history >= 0]] = True
    curve.add(scores.cpu(), batch["ground_truth"][:, 0].cpu(), seen)


arch = args["arch"]
model = SasRec(schema, block_count=arch["layers"], head_count=arch["heads"], hidden_size=arch["hidden"],
               max_seq_len=arch["max_len"], loss_type="CE")  # the rest at RePlay's defaults
training = SasRecTrainingDataset(seq_train, max_sequence_length=arch["max_len"])
valid = cases(seq_train, valid_gt)
curve = Curve(args["select"], len(valid_gt), "replay")
trainer = L.Trainer(accelerator="gpu" if args["device"].startswith("cuda") else "cpu", devices=1,
                    max_epochs=args["epochs"], num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, callbacks=[
                        make_watch(L.Callback, curve, read, "ndcg_at_10"), L.pytorch.callbacks.EarlyStopping(monitor="ndcg_at_10", mode="max",
                                                                        patience=args["patience"])])
curve.start = time.perf_counter()
trainer.fit(model, train_dataloaders=DataLoader(training, batch_size=args["batch"], shuffle=True),
            val_dataloaders=DataLoader(valid, batch_size=args["batch"]))
seconds = time.perf_counter() - curve.start
model.load_state_dict(curve.best_state)
model.eval()


class Sums:
    def __init__(self):
        self.total = np.zeros((2, 3))

    def add(self, scores, want, seen):
        self.total += sums_at_10(scores.float(), want.long(), seen)


test = Sums()
with torch.no_grad():
    for i, batch in enumerate(DataLoader(cases(seq_before_test, test_gt), batch_size=256)):
        read(test, model, model.validation_step(batch, i), batch)
json.dump({"validations": curve.points, "seconds": seconds, "train_sequences": len(training),
           "test": figures(test.total, len(test_gt)),
           "test_items": dict(zip(test_gt["user_id"], test_gt["item_id"])),
           "valid_items": dict(zip(valid_gt["user_id"], valid_gt["item_id"])),
           "cold_test_items": 0, "cold_valid_items": 0}, open(args["out"], "w"))
'''


def main(argv=None) -> int:
    args = common.peer_arguments(__doc__, PEER, DEFAULT_VENV, EPOCHS, QUICK_EPOCHS, argv)
    return common.peer_comparison(args, PEER, "replay", DRIVER, INSTALL, PROBE, {"patience": PATIENCE, "batch": BATCH})


if __name__ == "__main__":
    sys.exit(main())
