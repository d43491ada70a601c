"""Knowledge distillation: a small student learns from a trained teacher's soft targets as well as the data.

At every position of every training window the student's loss is

    (1 - alpha) * CE(next item)  +  alpha * T^2 * KL( softmax(teacher / T) || softmax(student / T) )

(Hinton et al. 2015; the T^2 keeps the soft term's gradients on the scale of the hard one's as T
grows). Teacher scores are computed on the fly for each batch, in eval mode and without gradients,
so nothing the size of "every position x every item" is ever cached.

To ``fit()``, to checkpoints and to evaluation the :class:`Distillation` wrapper *is* the student:
its name, settings, parameters and saved tensors are the student's; the teacher is held outside the
module tree, so it is neither trained nor saved, yet it follows the student to the training device.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from recstudio.errors import RecStudioError
from recstudio.models.sasrec import at_readout
from recstudio.training.wrappers import Wrapped

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def check_settings(temperature: Any, alpha: Any) -> tuple[float, float]:
    """``(temperature, alpha)`` as floats, or a user error saying what is allowed."""
    try:
        temperature, alpha = float(temperature), float(alpha)
    except (TypeError, ValueError):
        raise RecStudioError(f"Distillation needs numbers: temperature {temperature!r}, alpha {alpha!r}.") from None
    if not 0.0 < temperature <= 100.0:
        raise RecStudioError(f"The distillation temperature must be above 0 (usually 1-5), got {temperature:g}.")
    if not 0.0 <= alpha <= 1.0:
        raise RecStudioError(f"alpha (the weight of the teacher's soft targets) must be between 0 and 1, got {alpha:g}.")
    return temperature, alpha


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

    def _teacher_scores(self, histories: torch.Tensor) -> torch.Tensor:
        """The frozen teacher's scores at every position (in eval mode, without grad: a sasrec-lm teacher
        builds its item table, the adaptor over every item's text, once, not at every step)."""
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
