"""The one error type for mistakes a user can cause (bad files, unknown names)."""


class RecStudioError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do.

    The CLI prints it on one line and exits 2; the GUI shows it in a dialog.
    Anything else that escapes is a bug and stays a traceback.
    """
