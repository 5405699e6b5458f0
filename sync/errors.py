"""User-facing errors: one clear line that names the input and the problem."""


class ShiurError(Exception):
    """An error caused by the user's input or environment, shown as one line without a traceback."""


class AudioError(ShiurError):
    pass


class TextError(ShiurError):
    pass


class ModelError(ShiurError):
    pass
