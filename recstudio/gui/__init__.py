"""The Qt layer: app, main window, views, background jobs and plots. The only place Qt lives."""
