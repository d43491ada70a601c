"""Model settings and the registry of models by name, importable without torch (for forms and --help).

A model is listed once: its config dataclass and, right after it, its :class:`ModelSpec` entry
(``register``). Each setting's label, tooltip and whether it tells runs apart live in the field's
metadata (see :func:`setting`); the window, the CLI and ``recstudio.models.setting_label`` read them
from there. The model class itself lives in the spec's ``module``, imported only when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recstudio.errors import RecStudioError
from recstudio.knowledge.text import DEFAULT_TEMPLATE


# Settings added after runs were saved without them: a saved config that lacks one was trained with
# this value (not with today's default), so checkpoints and resumed runs read it back as it was.
LEGACY_SETTINGS = {"scale_inputs": True, "targets": "last", "cpu_bf16": False, "init": "random", "id_init": "zero"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    module: str  # imported only when the model is built
    class_name: str
    config_class: type
    description: str
    trainable: bool = True
    uses_item_text: bool = False  # built with the items' text vectors (settings encoder/template/pooling)
    uses_item_strings: bool = False  # also built with the items' rendered texts (it reads them itself)
    distillable: bool = False  # can learn as a distillation student (``Recommender.distillable``)
    # A run can start from a finished run of this model on another catalogue (``Recommender.start_from``);
    # these settings shape the weights it carries over, or the text vectors they read, so they come from
    # that run. Empty: the model cannot start from another run.
    transfer_settings: tuple[str, ...] = ()
    # Training settings (``TrainConfig`` fields) a run of this model gets where it does not set them, e.g.
    # the epoch bound of a model whose epoch is costly and whose validation plateaus early; a field not
    # named here takes the training default.
    training: dict = field(default_factory=dict)


#: Every model by name, in the order the window and ``recstudio models`` list them.
MODEL_SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (once per name)."""
    if spec.name in MODEL_SPECS:
        raise ValueError(f"model {spec.name!r} is registered twice")
    MODEL_SPECS[spec.name] = spec
    return spec


def setting(default, help: str, *, label: str, key: bool = False, **bounds):
    """A config field with the words a form shows for it: ``label`` (the form's row), ``help`` (a
    tooltip-sized explanation), ``key`` (one of the few settings that tell runs apart in the runs table),
    and optional ``min``/``max``/``choices``/``kind``/``when`` for the form's editor; ``fresh_only``: it decides
    how a model built fresh starts, so it means nothing for a run that starts from another run's weights."""
    return field(default=default, metadata={"label": label, "help": help, "key": key, **bounds})


@dataclass
class PopConfig:
    pass


register(ModelSpec("pop", "recstudio.models.pop", "Popularity", PopConfig,
                   "Most popular items in the training data (a baseline every model must beat).", trainable=False))


@dataclass
class ItemKNNConfig:
    neighbours: int = setting(100, "Similar items kept per item.", label="Neighbours", key=True, min=1, max=10000)
    shrink: float = setting(10.0, "Damps similarities that rest on few shared users.", label="Shrink", key=True,
                            min=0.0, max=1000.0)
    max_len: int = setting(100, "Most recent history events that vote.", label="History length", key=True,
                           min=1, max=10000)


register(ModelSpec("itemknn", "recstudio.models.itemknn", "ItemKNN", ItemKNNConfig,
                   "Item-to-item cosine similarity on co-occurrence, summed over the history.", trainable=False))


@dataclass
class SASRecConfig:
    hidden: int = setting(64, "Width of item vectors and of the transformer.", label="Hidden size", key=True,
                          min=8, max=1024)
    layers: int = setting(2, "Self-attention blocks.", label="Layers", key=True, min=1, max=12)
    heads: int = setting(2, "Attention heads per block (must divide hidden).", label="Attention heads", key=True,
                         min=1, max=16)
    max_len: int = setting(50, "Most recent events the model reads.", label="History length", key=True, min=2, max=1000)
    dropout: float = setting(0.2, "Dropout on embeddings, attention and feed-forward layers.", label="Dropout",
                             min=0.0, max=0.9)
    loss: str = setting("full", "full: softmax over every item (exact; its memory grows with the catalogue). "
                        "sampled: softmax over the target and `negatives` items drawn by popularity for each "
                        "batch, corrected by log Q (for catalogues of 10^5-10^6 items).", label="Loss",
                        choices=("full", "sampled"))
    negatives: int = setting(1024, "Items drawn for each batch as negatives when the loss is sampled (all items "
                             "when there are no more than this).", label="Negatives", min=1, max=10_000_000)
    scale_inputs: bool = setting(False, "Multiply item vectors by the square root of hidden before position "
                                 "vectors are added (the original SASRec). Off, the last items read weigh less in "
                                 "the output, so items already seen are ranked less high.", label="Scale inputs")
    init: str = setting("cooccurrence", "How item vectors start. cooccurrence: from which items the same users have "
                        "(the top singular vectors of the training data's user-item matrix, each side normalised by "
                        "its counts, as item-KNN's cosine is), so training starts from what goes together; random: "
                        "small random vectors (the original SASRec).", label="Item vectors start",
                        choices=("cooccurrence", "random"), fresh_only=True)

    def __post_init__(self):
        if self.heads >= 1 and self.hidden % self.heads:
            raise RecStudioError(
                f"hidden ({self.hidden}) must be a multiple of heads ({self.heads}); e.g. hidden "
                f"{self.hidden - self.hidden % self.heads or self.heads} or heads 1."
            )
        if self.loss not in ("full", "sampled"):
            raise RecStudioError(f"Setting 'loss' must be full or sampled; got {self.loss!r}.")
        choices = self.__dataclass_fields__["init"].metadata["choices"]
        if self.init not in choices:
            raise RecStudioError(f"Setting 'init' must be one of {', '.join(choices)}; got {self.init!r}.")


register(ModelSpec("sasrec", "recstudio.models.sasrec", "SASRec", SASRecConfig,
                   "Self-attentive sequential recommendation (Kang & McAuley 2018), full-softmax loss (or a "
                   "log-Q-corrected sampled softmax for large catalogues).", distillable=True))


@dataclass
class SASRecLMConfig(SASRecConfig):
    encoder: str = setting(
        "", "Text encoder: a folder holding a Hugging Face model, or a hub id; empty = the bundled "
        "all-MiniLM-L6-v2 (offline).", label="Encoder", kind="encoder")
    template: str = setting(
        DEFAULT_TEMPLATE, "How an item's catalogue row becomes text; {column} reads a catalogue column, "
        "and a field an item lacks is dropped with its label.", label="Template", kind="template")
    pooling: str = setting("mean", "How token states become one text vector: mean (encoders such as "
                           "BERT/MiniLM) or last (the last token, for decoders such as GPT-2).",
                           label="Pooling", choices=("mean", "last"))
    fusion: str = setting("gated", "gated: a learned id vector plus the item's text vector, mixed by a "
                          "learned gate; text-only: no id vectors at all (every item is its text).",
                          label="Fusion", key=True, choices=("gated", "text-only"))
    adaptor: str = setting("whiten-moe", "How frozen text vectors enter the model: linear (one projection) "
                           "or whiten-moe (whitening + a mixture of projection experts, as in UniSRec).",
                           label="Adaptor", choices=("linear", "whiten-moe"))
    experts: int = setting(8, "Projection experts of the whiten-moe adaptor.", label="Experts", min=1, max=64,
                           when=("adaptor", ("whiten-moe",)))
    id_dropout: float = setting(0.2, "Share of items whose id vector is hidden at each training step, so "
                                "their text alone must place them (as for items never seen).", label="Id dropout",
                                min=0.0, max=0.9)

    def __post_init__(self):
        super().__post_init__()
        for name in ("pooling", "fusion", "adaptor"):
            choices = self.__dataclass_fields__[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise RecStudioError(
                    f"Setting {name!r} must be one of {', '.join(choices)}; got {getattr(self, name)!r}."
                )


register(ModelSpec("sasrec-lm", "recstudio.models.sasrec_lm", "SASRecLM", SASRecLMConfig,
                   "SASRec whose item vectors fuse id embeddings with frozen language-model text vectors "
                   "(UniSRec-style adaptor); items never seen in training are placed by their text.",
                   uses_item_text=True, distillable=True,
                   transfer_settings=("hidden", "layers", "heads", "max_len", "scale_inputs", "encoder", "template",
                                      "pooling", "fusion", "adaptor", "experts")))


@dataclass
class LMSeqConfig:
    encoder: str = setting(
        "", "Language model that reads each history as text and encodes the items' text: a folder holding a "
        "Hugging Face model (encoder or decoder), or a hub id; empty = the bundled all-MiniLM-L6-v2 (offline).",
        label="Encoder", kind="encoder")
    template: str = setting(
        DEFAULT_TEMPLATE, "How an item's catalogue row becomes text (a history reads as its items' texts, oldest "
        "first); {column} reads a catalogue column, and a field an item lacks is dropped with its label.",
        label="Template", kind="template")
    pooling: str = setting("auto", "How token states become one vector: mean (encoders such as BERT/MiniLM), last "
                           "(the last token, for decoders such as GPT-2), or auto (by the model's type).",
                           label="Pooling", choices=("auto", "mean", "last"))
    finetune: str = setting("last-n", "What of the language model trains: frozen (nothing; fastest), last-n (its "
                            "last `last_n` layers), or lora (low-rank adapters on its attention, via peft).",
                            label="Fine-tune", choices=("frozen", "last-n", "lora"))
    last_n: int = setting(2, "Layers at the top of the language model that train when fine-tune is last-n.",
                          label="Layers trained", min=1, max=200, when=("finetune", ("last-n",)))
    lora_r: int = setting(8, "Rank of the LoRA adapters (fine-tune lora).", label="LoRA rank", min=1, max=512,
                          when=("finetune", ("lora",)))
    lora_alpha: float = setting(16.0, "LoRA scaling: adapters count alpha / r (fine-tune lora).", label="LoRA alpha",
                                min=0.01,
                                max=4096.0, when=("finetune", ("lora",)))
    backbone_lr: float = setting(0.1, "Learning rate of the language model's trained weights (last-n layers or "
                                 "LoRA adapters) as a share of the run's; the new head learns at the full rate.",
                                 label="LM learning rate ×", min=0.0, max=10.0, when=("finetune", ("last-n", "lora")))
    head: str = setting("text", "How items are scored: text (each item's frozen text vector through a learned "
                        "adaptor, so items without events are scored by their text) or linear (one learned output "
                        "per item id, as in the seed; such items get no score of their own).",
                        label="Head", choices=("text", "linear"))
    id_embeddings: bool = setting(True, "With the text head: add a learned id vector to each item's text vector "
                                  "(items without training events keep their text alone).", label="Id embeddings",
                                  when=("head", ("text",)))
    id_init: str = setting("cooccurrence", "How the id vectors start. cooccurrence: from which items the same users "
                           "have (as sasrec's item vectors do), as long as the text vectors on average; zero: the "
                           "items start as their text alone.", label="Id vectors start",
                           choices=("cooccurrence", "zero"), fresh_only=True, when=("head", ("text",)))
    max_len: int = setting(20, "Most recent events rendered as the history's text.", label="History length", key=True,
                          min=1, max=1000)
    targets: str = setting("every-item", "What a training step predicts: every-item (each item of a history "
                           "predicts the next from one reading of the text, in which an item's words see only "
                           "older items: an epoch covers every event) or last (a history's last item only, "
                           "read with all of its text at once: one target per user and epoch).",
                           label="Targets", choices=("every-item", "last"))
    max_tokens: int = setting(256, "Tokens the language model reads per history (older items are dropped first); "
                              "the step's cost grows with it.", label="Tokens per history", min=8, max=32768)
    item_tokens: int = setting(32, "Tokens kept of each item's text.", label="Tokens per item", min=1, max=4096)
    dropout: float = setting(0.1, "Dropout on the pooled history vector.", label="Dropout", min=0.0, max=0.9)
    cpu_bf16: bool = setting(True, "On a CPU with bfloat16 instructions (AVX-512 BF16 or AMX), the language model "
                             "reads in bfloat16 (about 2.5x faster; scores differ in the third digit); off: "
                             "float32. On a GPU, training's mixed precision decides.", label="bfloat16 on CPU")

    def __post_init__(self):
        for name in ("pooling", "finetune", "head", "targets", "id_init"):
            choices = self.__dataclass_fields__[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise RecStudioError(
                    f"Setting {name!r} must be one of {', '.join(choices)}; got {getattr(self, name)!r}."
                )


#: lm-seq's own training settings. Epochs: one reads every training event once through the language model
#: (on ml-100k with MiniLM 2.5 to 3 minutes on a 2-core CPU with bfloat16), so the bound is a few. Batch:
#: a 20-item window is one training sequence with 19 targets, so an epoch is a few thousand sequences; at
#: 32 per step the head and the trained layers get four times the steps of 128 for about the same time
#: (ml-100k validation NDCG@10 after 4 epochs 0.080 instead of 0.067). Rate: 3e-4, not the training default
#: 1e-3, at which the head over-fits a small dataset within an epoch (the sample's validation NDCG@10 peaked
#: at 0.065 after its first epoch and fell after; at 3e-4 it reaches 0.068-0.069 at the third).
#: Ten epochs: on ml-100k, with the co-occurrence id start, validation still rose through the eighth (0.103)
#: to 0.108 at the tenth, about 25 minutes here.
LMSEQ_TRAINING = {"epochs": 10, "batch_size": 32, "lr": 3e-4}
register(ModelSpec("lm-seq", "recstudio.models.lm_seq", "LMSeq", LMSeqConfig,
                   "A pretrained language model (any Hugging Face encoder or decoder; MiniLM by default) reads "
                   "the user's recent history as text; its pooled state is scored against the items' text "
                   "vectors (so new items can be recommended). Frozen, last-n layers or LoRA fine-tuning.",
                   uses_item_text=True, uses_item_strings=True, training=LMSEQ_TRAINING))
