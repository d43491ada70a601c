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

import sys

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
DRIVER = common.DRIVER_HELPERS + r'''
import pandas as pd
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


def read(curve, module, outputs, batch):
    """One validation batch's logits on both protocols (the batch's x is the seen history)."""
    logits = outputs["logits"].reshape(len(batch["y"]), -1).clone()
    logits[:, : len(module.item_extra_tokens)] = -math.inf  # the padding token is no item
    x = batch["x"].to(logits.device).long()
    curve.add(logits, batch["y"][:, -1].to(logits.device),
              torch.zeros(logits.shape, dtype=torch.bool, device=logits.device).scatter_(1, x, True))


curve = Curve(args["select"], len(valid), "rectools")
cuda = args["device"].startswith("cuda")


def trainer():
    return Trainer(accelerator="gpu" if cuda else "cpu", devices=1, min_epochs=1, max_epochs=args["epochs"],
                   num_sanity_val_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, callbacks=[
                       make_watch(Callback, curve, read, "NDCG@10", lambda module: module.torch_model),
                       EarlyStopping(monitor="NDCG@10", mode="max", patience=args["patience"])])


arch = args["arch"]
model = SASRecModel(n_factors=arch["hidden"], n_blocks=arch["layers"], n_heads=arch["heads"],
                    session_max_len=arch["max_len"], item_net_block_types=(IdEmbeddingsItemNet,),
                    get_val_mask_func=last_event_of_evaluated, get_trainer_func=trainer,
                    recommend_torch_device=args["device"])
dataset = Dataset.construct(train)
curve.start = time.perf_counter()
model.fit(dataset)
seconds = time.perf_counter() - curve.start
sequences = int(model.data_preparator.train_dataset.interactions.df[Columns.User].nunique())
model.lightning_model.torch_model.load_state_dict(curve.best_state)

# The test: RecTools' own full ranking of every item it knows (recommend, nothing filtered), read on both
# protocols; an item it never saw in training cannot be ranked (-inf: a miss).
catalog = {item: j for j, item in enumerate(sorted(log[Columns.Item].unique()))}
users = test[Columns.User].tolist()
row = {u: r for r, u in enumerate(users)}
known = model.data_preparator.get_known_item_ids()
full = model.recommend(users=users, dataset=dataset, k=len(known), filter_viewed=False,
                       on_unsupported_targets="warn")
scores = torch.full((len(users), len(catalog)), -math.inf)
scores[full[Columns.User].map(row).to_numpy(), full[Columns.Item].map(catalog).to_numpy()] = torch.tensor(
    full[Columns.Score].to_numpy(), dtype=torch.float32)
history = train[train[Columns.User].isin(row)]
seen = torch.zeros(scores.shape, dtype=torch.bool)
seen[history[Columns.User].map(row).to_numpy(), history[Columns.Item].map(catalog).to_numpy()] = True
want = torch.tensor(test[Columns.Item].map(catalog).to_numpy())
known = set(known)
json.dump({"validations": curve.points, "seconds": seconds, "train_sequences": sequences,
           "test": figures(sums_at_10(scores, want, seen), len(users)),
           "test_items": dict(zip(test[Columns.User], test[Columns.Item])),
           "valid_items": dict(zip(valid[Columns.User], valid[Columns.Item])),
           "cold_test_items": int((~test[Columns.Item].isin(known)).sum()),
           "cold_valid_items": int((~valid[Columns.Item].isin(known)).sum())}, open(args["out"], "w"))
'''


def main(argv=None) -> int:
    args = common.peer_arguments(__doc__, PEER, DEFAULT_VENV, EPOCHS, QUICK_EPOCHS, argv)
    return common.peer_comparison(args, PEER, "rectools", DRIVER, INSTALL, PROBE, {"patience": PATIENCE})


if __name__ == "__main__":
    sys.exit(main())
