"""The window's pages: start, dataset, training, runs and inspector views, and the import dialog."""
