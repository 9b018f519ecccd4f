"""The staff side of the touchscreen, beside the resident's ``kiosk.ui`` modules and shaped
like them: ``present`` (pure wording, no Kivy), ``view`` (the properties the kv files bind to),
``mode`` (which staff screen is shown and its intents), ``jobs`` and ``worker`` (the work, off
the UI thread). The staff back-end they call is ``kiosk.staff``."""
