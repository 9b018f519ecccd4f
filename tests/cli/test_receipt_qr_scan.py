"""The QR of a real signed receipt scans with a decoder that shares no code with the kiosk
(zxing-cpp), as printed on 58 mm thermal paper and as shown on screen, and what it reads passes
``kiosk receipt verify``.

The ESC/POS driver prints the QR natively (GS ( k: drivers/printer/escpos/driver.py), so the
printer, not the kiosk, draws the symbol and no raster image of it ever crosses the line. The
printed symbol is therefore drawn here the way the printer draws it, from what the driver sent:
the stored data (function 180), the module size in dots (function 167) and the error correction
level (function 169), Epson's ESC/POS command reference for GS ( k <cn 49>. Paper is 58 mm with a
48 mm printable width at 203 dpi (8 dots/mm), 384 dots a line centred on the 464-dot-wide paper,
the common 58 mm thermal mechanism; one dot is one pixel here. The symbol must fit the printable
width; its quiet zone may reach into the unprinted margins.
"""

from __future__ import annotations

import sqlite3

import pytest
import qrcode
import zxingcpp  # the `test` extra (pyproject.toml): no code shared with qrcode
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from PIL import Image

from drivers.transport import SimulatorHub
from kiosk.config import MAX_VERIFY_URL, config_from_dict, verify_url
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from kiosk.flow.receipt import ReceiptData
from offline_queue.journal import PaymentRecord
from kiosk.services import receipt_signing as rs
from kiosk.services.identity import key_path
from kiosk.services.scripted_resident import run_sessions
from kiosk.services.terminal import Terminal
from kiosk.ui.qr import modules

DOTS_PER_LINE = 384  # 48 mm printable at 8 dots/mm (203 dpi)
PAPER_DOTS = 464  # 58 mm
QUIET = 4  # modules of white around the symbol (ISO/IEC 18004 section 9.1)
#: GS ( k function 169's n → error correction level (Epson ESC/POS reference)
ECC = {48: "L", 49: "M", 50: "Q", 51: "H"}
QRCODE_ECC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
#: the longest kiosk id (kiosk/config.py KIOSK_ID) and verify URL (MAX_VERIFY_URL): the largest
#: QR a real receipt can carry
KIOSK_ID = "KIOSK-QR-" + "9" * 23
LONG_URL = "https://" + "b" * (MAX_VERIFY_URL - len("https:///v1/receipts/verify")) + \
    "/v1/receipts/verify"


def qr_commands(stream: bytes) -> list[dict]:
    """Every QR the byte stream prints: {data, module_dots, ecc} from the GS ( k <cn 49>
    functions before its print function (fn 81), parsed here without the simulator's decoder."""
    printed, state, i = [], {}, 0
    while (i := stream.find(b"\x1d(k", i)) >= 0:
        size = int.from_bytes(stream[i + 3:i + 5], "little")
        body = stream[i + 5:i + 5 + size]
        i += 5 + size
        if len(body) < 2 or body[0] != 49:
            continue
        fn = body[1]
        if fn == 67:
            state["module_dots"] = body[2]
        elif fn == 69:
            state["ecc"] = ECC[body[2]]
        elif fn == 80:
            state["data"] = body[3:].decode("utf-8")
        elif fn == 81:
            printed.append(dict(state))
    return printed


def symbol_image(matrix, module_px: int, printable: int | None = None) -> Image.Image:
    """Dark/light modules (no border) as a white 8-bit image. With ``printable`` (dots a line)
    it is a strip of 58 mm paper with the symbol centred (the driver sends ESC a 1 first) and
    QUIET modules above and below; else just the symbol and its quiet zone."""
    side = len(matrix) * module_px
    quiet = QUIET * module_px
    if printable is None:
        width = side + 2 * quiet
    else:
        assert side <= printable, f"a {side}-dot symbol overflows the {printable}-dot line"
        width = max(PAPER_DOTS, side + 2 * quiet)
        assert (width - side) // 2 >= quiet, "no quiet zone left beside the symbol"
    img = Image.new("L", (width, side + 2 * quiet), 255)
    x0 = (width - side) // 2
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                img.paste(0, (x0 + c * module_px, quiet + r * module_px,
                              x0 + (c + 1) * module_px, quiet + (r + 1) * module_px))
    return img


def printer_matrix(data: str, ecc: str) -> list[list[bool]]:
    """What a GS ( k printer draws: model 2, the smallest version for the data at ``ecc``."""
    code = qrcode.QRCode(border=0, error_correction=QRCODE_ECC[ecc])
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def scan(img: Image.Image):
    found = zxingcpp.read_barcodes(img)
    assert len(found) == 1, f"{len(found)} symbols found"
    (code,) = found
    assert code.valid and code.format == zxingcpp.BarcodeFormat.QRCode, code
    return code


@pytest.fixture
def paid_receipt(tmp_path, billing_server):
    """One payment through the headless terminal (real drivers over ptys to the simulators, the
    reference server on loopback); (bytes the printer received, receipt it kept, config)."""
    state = tmp_path / "dev"
    state.mkdir()
    cfg = config_from_dict({
        "kiosk": {"id": KIOSK_ID, "db": str(tmp_path / "k.db"), "state_dir": str(state)},
        "billing": {"url": billing_server.url, "enrol_token": billing_server.enrol_token,
                    "sync_interval_s": 0.2},
        "receipts": {"verify_url": LONG_URL},
        "devices": {name: {"poll_interval_ms": 20}
                    for name in ("bill_validator", "coin_acceptor", "card_reader", "printer")},
    })
    hub = SimulatorHub(str(state))
    printer = hub.get("printer")
    received = bytearray()
    feed = printer.on_bytes

    def tee(data: bytes) -> bytes:
        received.extend(data)
        return feed(data)

    printer.on_bytes = tee  # the serve thread looks the method up per read
    term = Terminal(cfg, hub)
    term.start()
    try:
        cards = {acct: uid for uid, acct in DEMO_CARDS.items()}
        account = DEMO_ACCOUNTS[0]
        report = run_sessions(term, 1, [(account.account_no, cards.get(account.account_no))])
        assert report.paid == 1 and report.pending == 0, report
        receipt = printer.wait_receipt(1, 10)
    finally:
        term.stop()
    return bytes(received), receipt, cfg


def test_printed_and_on_screen_qr_scan_to_the_signed_receipt(paid_receipt, run_kiosk):
    stream, receipt, cfg = paid_receipt
    # The signed text, rebuilt from the journal with the kiosk's own key (Ed25519 signatures
    # are deterministic, RFC 8032 section 5.1.6).
    row = sqlite3.connect(cfg.kiosk.db).execute(
        "SELECT receipt_no, txn_id, account_no, amount_minor, created_at FROM payments").fetchone()
    key = load_pem_private_key(key_path(cfg).read_bytes(), None)
    data = ReceiptData(PaymentRecord(KIOSK_ID, row[1], row[1], row[2], row[3], row[0], row[4],
                                     False, (), ()), "95598")
    signed = rs.ReceiptSigner(key, verify_url(cfg))(data)
    assert signed.startswith(LONG_URL + "?r=" + row[0].upper() + ":")
    assert receipt["qr"] == [signed]  # what the printer simulator decoded

    (cmd,) = qr_commands(stream)
    assert cmd["data"] == signed
    # Printed: the printer's own rendering at the driver's module size, 384 dots a line.
    matrix = printer_matrix(cmd["data"], cmd["ecc"])
    paper = symbol_image(matrix, cmd["module_dots"], DOTS_PER_LINE)
    printed = scan(paper)
    assert printed.text == signed
    assert cmd["ecc"] == "M" and printed.extra["ECLevel"] == "M"  # what the driver asks for
    assert int(printed.extra["Version"]) == (len(matrix) - 17) // 4
    assert int(printed.extra["Version"]) <= rs.MAX_QR_VERSION
    # A phone a hand's width away sees about half the printer's resolution.
    small = paper.resize((paper.width // 2, paper.height // 2), Image.Resampling.BILINEAR)
    assert scan(small).text == signed
    # On screen (no paper): the done screen's modules, ECC M, their own 2-module border.
    shown = [list(row) for row in modules(signed)]
    on_screen = scan(symbol_image([r[2:-2] for r in shown[2:-2]], 6))
    assert on_screen.text == signed
    assert on_screen.extra["ECLevel"] == "M"
    assert int(on_screen.extra["Version"]) <= rs.MAX_QR_VERSION, on_screen.extra
    assert int(on_screen.extra["Version"]) == rs.qr_version(signed)

    ok = run_kiosk("receipt", "verify", printed.text, "--kiosk-id", KIOSK_ID,
                   "--state-dir", cfg.kiosk.state_dir)
    assert ok.returncode == 0 and ok.stdout.startswith("valid: receipt " + row[0].upper()), \
        ok.stdout + ok.stderr
    flipped = printed.text[:-3] + ("A" if printed.text[-3] != "A" else "B") + printed.text[-2:]
    bad = run_kiosk("receipt", "verify", flipped, "--kiosk-id", KIOSK_ID,
                    "--state-dir", cfg.kiosk.state_dir)
    assert bad.returncode == 1 and bad.stdout.startswith("INVALID"), bad.stdout


def test_scan_helpers_can_fail():
    """A symbol too wide for the paper is refused and a damaged one does not read."""
    matrix = printer_matrix("HTTP://X/?R=" + "A" * 200, "M")
    with pytest.raises(AssertionError, match="overflows"):
        symbol_image(matrix, 8, DOTS_PER_LINE)
    img = symbol_image(matrix, 4)
    img.paste(255, (0, 0, img.width, img.height // 2))  # half the symbol torn off
    assert zxingcpp.read_barcodes(img) == []
