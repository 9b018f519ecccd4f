"""Bill validators (banknote acceptors); one sub-package per wire protocol."""
