"""RecStudio: a workbench for sequential recommenders with language-model knowledge."""

__version__ = "0.1.0"
