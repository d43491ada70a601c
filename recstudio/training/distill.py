"""Knowledge distillation: a small student learns from a trained teacher's soft targets as well as the data.

At every position of every training window the student's loss is

    (1 - alpha) * CE(next item)  +  alpha * T^2 * KL( softmax(teacher / T) || softmax(student / T) )

(Hinton et al. 2015; the T^2 keeps the soft term's gradients on the scale of the hard one's as T
grows). Teacher scores are computed for each batch, in eval mode and without gradients. A teacher whose
scores are costly (``Recommender.slow_position_scores``: lm-seq reads every history as text through its
language model) has them kept once read (:class:`ScoreMemo`), per history it read, in float16 and up to
``MEMO_BYTES``: an epoch's windows start at new offsets but end at the same events, so from the second
epoch on the student trains at its own pace; a cheap teacher (sasrec-lm: one pass per window) is asked
every time, so nothing the size of "every position x every item" is kept for it.

To ``fit()``, to checkpoints and to evaluation the :class:`Distillation` wrapper *is* the student:
its name, settings, parameters and saved tensors are the student's; the teacher is held outside the
module tree, so it is neither trained nor saved, yet it follows the student to the training device.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from recstudio.errors import RecStudioError
from recstudio.models.sasrec import at_readout
from recstudio.training.distill_settings import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_settings
from recstudio.training.wrappers import Wrapped

#: Most memory a slow teacher's kept scores take (float16 rows of every item's score, on the CPU); the
#: histories read after it is full are scored again each time they come (ml-100k: 100k events x 1,682
#: items, 0.34 GB; the sample: 0.42 GB).
MEMO_BYTES = 2 * 1024**3


def check_student(student) -> None:
    if not student.distillable:
        raise RecStudioError(
            f"A distilled student must be a sequence model scored against an item table (sasrec or sasrec-lm); "
            f"{student.name!r} is not. Choose --model sasrec."
        )


def teacher_position_scores(teacher, histories: torch.Tensor) -> torch.Tensor:
    """The teacher's scores of every item after each prefix of ``histories``: [B, L, n_items]
    (``Recommender.position_scores``: one pass for SASRec-family models, whose text-fused variant keeps its
    item table between calls; ``score`` once per prefix for a model that has no faster way)."""
    return teacher.position_scores(histories)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T)); rows are positions."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits.float() / t, dim=-1), F.log_softmax(teacher_logits.float() / t, dim=-1),
                    log_target=True, reduction="batchmean") * (t * t)


class Distillation(Wrapped):
    """A SASRec-family ``student`` trained against ``teacher`` (any model that scores all items)."""

    def __init__(self, student, teacher, temperature: float = DEFAULT_TEMPERATURE, alpha: float = DEFAULT_ALPHA):
        check_student(student)
        if teacher.n_items != student.n_items:
            raise RecStudioError(f"The teacher knows {teacher.n_items} items and the student {student.n_items}; "
                                 "they must be trained on the same dataset.")
        super().__init__(student)
        self.__dict__["teacher"] = teacher.eval()  # outside the module tree: not trained, not saved
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.temperature, self.alpha = check_settings(temperature, alpha)
        self.__dict__["memo"] = ScoreMemo(teacher) if teacher.slow_position_scores else None

    @property
    def student(self):
        return self.inner

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)  # moved with the student to the training device
        return self

    def prepare(self, windows: np.ndarray, batch_size: int, device):
        """Before the first epoch, a slow teacher reads the epoch's training ``windows`` (as ``fit`` lays
        them out) once, into its memo, yielding ``Stage("teacher", fraction, text)`` as it goes: the first
        epoch then trains at the student's own pace and its progress and time left hold, instead of an
        epoch that takes many times the others. Reading stops when the memo is full (what is left is read
        as training meets it, as without this stage). A cheap teacher, or none asked (alpha 0), reads nothing."""
        memo = self.memo
        if memo is None or self.alpha == 0.0 or not len(windows):
            return
        from recstudio.training.estimate import format_duration
        from recstudio.training.events import Stage

        name, n = self.teacher.name, len(windows)
        yield Stage("teacher", 0.0, f"Reading the teacher ({name}) once: its scores over {n:,} training windows "
                                    "are kept, so the epochs train at the student's own pace")
        started, done = time.perf_counter(), 0
        with torch.no_grad():
            for lo in range(0, n, batch_size):
                if len(memo) >= memo.capacity:
                    break
                # the histories a student's batch reads (SASRec.make_batch): a window less its last cell,
                # history-only cells (stored negated) read like the others
                rows = np.abs(windows[lo : lo + batch_size, :-1])
                memo.scores(torch.from_numpy(rows).to(device))
                done = min(n, lo + batch_size)
                if done < n:  # the last one's line is the summary below
                    left = (time.perf_counter() - started) / done * (n - done)
                    yield Stage("teacher", done / n, f"Reading the teacher: {done:,} of {n:,} windows, "
                                                     f"about {format_duration(left)} left")
        seconds = time.perf_counter() - started
        kept = f"{len(memo):,} histories kept ({memo.nbytes() / 1e9:.2f} GB)"
        if done < n:
            text = (f"Teacher read for {done:,} of {n:,} windows in {format_duration(seconds)}; its memory is full "
                    f"({kept}), so the rest is read as training meets it")
        else:
            text = f"Teacher read: {n:,} windows in {format_duration(seconds)}, {kept}"
        yield Stage("teacher", 1.0, text)

    def _teacher_scores(self, histories: torch.Tensor) -> torch.Tensor:
        """The frozen teacher's scores at every position (in eval mode, without grad: a sasrec-lm teacher
        builds its item table, the adaptor over every item's text, once, not at every step); a slow
        teacher's from its memo."""
        if self.memo is not None:
            return self.memo.scores(histories)
        return teacher_position_scores(self.teacher, histories)

    # the loss ----------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        student = self.student
        histories, targets = batch["histories"], batch["targets"]
        table = student.item_table()  # once per step (sasrec-lm's id dropout hides the same items in and out)
        hidden = student.encoder(F.embedding(histories, table), histories)
        trained = getattr(student, "trained_items", None)
        excluded = ~trained[1:] if trained is not None and not bool(trained[1:].all()) else None
        # with baskets, each target is read at the end of the basket before it (sasrec.at_readout)
        mask = (targets > 0) & (at_readout(histories, batch) > 0)
        logits = (at_readout(hidden, batch)[mask] @ table[1:].T).float()  # once, for both terms (full softmax)
        if "negatives" in batch:  # sampled softmax for the hard term; the soft one still spans the catalogue
            hard = student.sequence_loss(hidden, batch, table, excluded=excluded)
        else:
            hard_logits = logits if excluded is None else logits.masked_fill(excluded, float("-inf"))
            hard = F.cross_entropy(hard_logits, targets[mask] - 1)
        if self.alpha == 0.0:
            return hard
        with torch.no_grad():
            soft_targets = at_readout(self._teacher_scores(histories), batch)[mask]
        if excluded is not None:  # items the student never trains on are no candidates
            keep = ~excluded
            logits, soft_targets = logits[:, keep], soft_targets[:, keep]
        soft = distillation_loss(logits, soft_targets, self.temperature)
        return (1.0 - self.alpha) * hard + self.alpha * soft


class ScoreMemo:
    """A slow teacher's scores after each prefix it has read, kept by the history it reads there (its
    ``history_length`` most recent cells, 0 = none), so a prefix that comes again in a later epoch's window
    is not read again. A window the memo lacks a prefix of is read whole by the teacher, as without a memo,
    and its prefixes are kept (the first reading of a history is the one kept: a slow teacher's reading of
    a prefix may depend a little on where its window starts, e.g. lm-seq's half-window strides)."""

    def __init__(self, teacher, budget: int = MEMO_BYTES):
        self.teacher = teacher
        self.width = teacher.history_length
        self.rows: dict[bytes, int] = {}
        self.table = torch.empty(0, teacher.n_items, dtype=torch.float16)
        self.capacity = max(0, budget // (2 * teacher.n_items))
        self.read = 0  # windows the teacher has read (for tests and figures)

    def __len__(self) -> int:
        return len(self.rows)

    def nbytes(self) -> int:
        """Memory the kept scores take."""
        return len(self.rows) * 2 * self.teacher.n_items

    def scores(self, histories: torch.Tensor) -> torch.Tensor:
        """``teacher_position_scores(teacher, histories)`` [B, L, n_items], from the memo where it can."""
        b, length = histories.shape
        real = (histories > 0).cpu()
        coords = real.nonzero()  # [N, 2]: (window, cell) of every prefix that ends in an item
        cells = F.pad(histories.long().cpu(), (self.width - 1, 0)).unfold(1, self.width, 1)[real]  # [N, width]
        keys = [row.tobytes() for row in cells.numpy()]
        found = torch.tensor([self.rows.get(k, -1) for k in keys], dtype=torch.long)
        out = torch.zeros(b, length, self.teacher.n_items, device=histories.device)
        kept = found >= 0
        if kept.any():
            rows, cols = coords[kept].T.to(out.device)
            out[rows, cols] = self.table[found[kept]].to(out.device, torch.float32)
        if not kept.all():
            unread = coords[~kept, 0].unique()  # sorted
            fresh = teacher_position_scores(self.teacher, histories[unread.to(histories.device)]).float()
            self.read += len(unread)
            out[unread.to(out.device)] = fresh  # each such window as the teacher reads it whole
            new = (~kept).nonzero()[:, 0]
            values = fresh[torch.searchsorted(unread, coords[new, 0]).to(fresh.device), coords[new, 1].to(fresh.device)]
            self._keep([keys[i] for i in new.tolist()], values)
        return out

    def _keep(self, keys: list[bytes], values: torch.Tensor) -> None:
        """Adds the rows of ``values`` [M, n_items] under ``keys`` (the first of a repeated key), up to the
        memo's capacity."""
        picked, seen = [], set()
        for i, key in enumerate(keys):
            if key not in self.rows and key not in seen and len(self.rows) + len(picked) < self.capacity:
                picked.append(i)
                seen.add(key)
        if not picked:
            return
        start = len(self.rows)
        end = start + len(picked)
        if end > len(self.table):  # grown by doubling, so a row is copied a few times at most
            grown = torch.empty(min(self.capacity, max(end, 2 * len(self.table), 1024)), self.table.shape[1],
                                dtype=self.table.dtype)
            grown[:start] = self.table[:start]
            self.table = grown
        self.table[start:end] = values[picked].to("cpu", torch.float16)
        for offset, i in enumerate(picked):
            self.rows[keys[i]] = start + offset

