"""The staff screens, one module per screen (and one kv file under ``assets/kv/staff/``),
shaped like the resident's in ``kiosk.screens``; ``common`` holds what they share."""
