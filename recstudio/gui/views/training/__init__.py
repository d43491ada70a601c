"""The training page, one module per part: :mod:`.view` lays it out and wires it; :mod:`.settings_form`
is the model's settings form, :mod:`.devices` the device picker, :mod:`.progress` the live curves and
log, :mod:`.comparison` the earlier runs drawn beside them; :mod:`.presenter` is what the page says
and asks for, without widgets."""

from recstudio.gui.views.training.comparison import RunComparison
from recstudio.gui.views.training.devices import DeviceChoice
from recstudio.gui.views.training.presenter import (
    CLUSTER_JOB_NAME, JOB_NAME, LIVE, SPLITS, VALIDATION_METRICS, metrics_text, planned_work,
)
from recstudio.gui.views.training.progress import LiveProgress
from recstudio.gui.views.training.settings_form import EncoderPicker, ModelSettingsForm
from recstudio.gui.views.training.view import TrainingView

__all__ = [
    "CLUSTER_JOB_NAME", "DeviceChoice", "EncoderPicker", "JOB_NAME", "LIVE", "LiveProgress", "ModelSettingsForm",
    "RunComparison", "SPLITS", "TrainingView", "VALIDATION_METRICS", "metrics_text", "planned_work",
]
