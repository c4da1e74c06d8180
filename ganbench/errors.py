"""The one exception type the command line turns into a single error line."""


class UserError(Exception):
    """Bad input or a missing file/weight the user can fix.

    The CLI prints ``ganbench: error: <message>`` and exits with status 2, without a traceback.
    The message must name the accepted values or the fix.
    """
