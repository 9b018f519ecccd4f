"""The prompt catalogue: every prompt id, what it says in each language, and the phrases that
put an amount between fixed clips.

A *clip* is one audio file (``assets/sounds/<lang>/manifest.json`` maps its id to its text and
file); a *prompt* is what the resident hears at once: one clip, or a phrase of clips and spoken
amounts (``phrase``). ``screen.<name>`` is also the help sentence of that screen (what to do
here), so what is heard and what is read are the same words. Wording follows the plain terms of
the resident screens (小票, 本次缴费, 放钱, 钞票). The buttons are named by where they are (the
primary action is bottom-right on every screen: docs/architecture.md, "Resident screens").
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.voice.numbers import NUMBER_CLIPS, amount_clips

LANGS = ("zh_CN", "en")

#: clip id → (Chinese, English). The number clips are in NUMBER_TEXTS.
CLIPS: dict[str, tuple[str, str]] = {
    # what to do on each resident screen (also the help sentence)
    "screen.attract": ("您好！交电费，请把卡放在读卡器上，或者点下面的按钮输入户号。",
                       "Hello! To pay for electricity, put your card on the reader, or touch "
                       "the button below to enter your account number."),
    "screen.identify": ("请用数字键输入户号，再点右下角的按钮。",
                        "Type your account number on the keys, then touch the button at the "
                        "bottom right."),
    "screen.account": ("请看一下户名和地址。没错就点右下角的按钮。",
                       "Please check the name and address. If they are right, touch the button "
                       "at the bottom right."),
    "screen.amount": ("请选择本次要缴多少钱。", "Please choose how much to pay now."),
    "screen.insert": ("请放钱，钞票一次放一张。本机不找零。",
                      "Please put in your money, one note at a time. No change is given."),
    "screen.processing": ("正在记录您的缴费，请稍等。", "Recording your payment. Please wait."),
    "screen.done": ("缴费已经完成。请拿好小票，然后点右下角的按钮。",
                    "Your payment is done. Take your receipt, then touch the button at the "
                    "bottom right."),
    "screen.rating": ("请为这次服务打分，也可以跳过。",
                      "Please rate this visit, or skip it."),
    "screen.ended": ("本次缴费已取消，机器没有收您的钱。",
                     "The payment is cancelled. The machine has not taken your money."),
    "screen.out_of_service": ("本机暂停服务，请不要放钱。需要帮助请拨打屏幕下方的服务电话。",
                              "This machine is out of service. Please do not put in money. "
                              "For help, call the service phone at the bottom of the screen."),
    # events
    "say.card_read": ("已读到您的卡，正在查询，请稍等。",
                      "Your card is read. Looking up your account, please wait."),
    "say.nothing_owed": ("您现在没有欠费，也可以预存电费。",
                         "You owe nothing now. You may pay in advance."),
    "say.note_returned": ("钞票退回来了，请取走。", "Your note is given back. Please take it."),
    "say.problem": ("出了点问题，请看屏幕上的说明，或拨打服务电话。",
                    "Something is not right. Please read the screen, or call the service "
                    "phone."),
    "say.fault": ("机器出了故障，请不要再放钱。", "The machine has a fault. Please put in no "
                                            "more money."),
    "say.take_receipt": ("请拿好小票。", "Please take your receipt."),
    "say.receipt_on_screen": ("小票打不出来。请用手机拍下屏幕上的二维码。",
                              "The receipt cannot be printed. Please photograph the QR code on "
                              "the screen."),
    "say.idle": ("您还在吗？请摸一下屏幕。", "Are you still there? Please touch the screen."),
    "say.volume": ("这是现在的音量。", "This is the volume now."),
    # a bill's barcode can be scanned too (only when a scanner is configured: docs/voice.md)
    "screen.attract.scan": ("您好！交电费，请把卡放在读卡器上，或者扫一下电费单上的条码，也可以点下面"
                            "的按钮输入户号。",
                            "Hello! To pay for electricity, put your card on the reader, or scan "
                            "the barcode on your bill, or touch the button below to enter your "
                            "account number."),
    "screen.identify.scan": ("请用数字键输入户号，再点右下角的按钮。也可以扫一下电费单上的条码。",
                             "Type your account number on the keys, then touch the button at "
                             "the bottom right. You can also scan the barcode on your bill."),
    # the scanner's messages (kiosk/flow/scan.py)
    "say.scan_not_a_bill": ("这不是本公司的电费单。请扫电费单上的条码，或者输入户号。",
                            "This is not a bill of this power company. Scan the barcode on "
                            "your electricity bill, or enter your account number."),
    "say.scan_bad_bill": ("电费单上的条码读不清，请输入电费单上印的户号。",
                          "The barcode on this bill cannot be read. Please enter the account "
                          "number printed on the bill."),
    "say.scan_code_not_here": ("付款码要到付款那一步才能用。没有扣钱。",
                               "A payment code can only be used at the payment step. Nothing "
                               "was charged."),
    # paying by phone (kiosk/flow/code_tender.py; the words of kiosk/ui/code_present.py)
    "screen.code_pay": ("请打开手机上的付款码，把手机放在扫码器下面。",
                        "Open the payment code in your wallet app and hold your phone under "
                        "the scanner."),
    "say.code_unreadable": ("这不是付款码。请打开手机上的付款码，把手机放在扫码器下面。",
                            "That was not a payment code. Open the payment code in your wallet "
                            "app and hold your phone under the scanner."),
    "say.code_read": ("已读到付款码，正在收款，请稍等。",
                      "The payment code is read. Taking the payment, please wait."),
    "say.code_confirm": ("请在手机上确认付款。", "Please confirm the payment on your phone."),
    "say.code_hurry": ("时间快到了，请马上在手机上确认。",
                       "Time is nearly up. Please confirm on your phone now."),
    "say.code_checking": ("正在向支付公司确认，请稍等。",
                          "Checking with the payment company, please wait."),
    "say.code_undoing": ("没能确认这次付款，正在取消，请稍等。",
                         "The payment could not be confirmed, so it is being cancelled. Please "
                         "wait."),
    "say.code_cancelling": ("正在取消付款，请稍等。", "Cancelling the payment, please wait."),
    "say.code_paid": ("手机付款成功。", "The phone payment went through."),
    "say.code_declined": ("您的钱包拒绝了这次付款。没有扣钱。",
                          "Your wallet declined the payment. No money was taken."),
    "say.code_failed": ("手机付款没有成功。没有扣钱。",
                        "The phone payment did not go through. No money was taken."),
    "say.code_timed_out": ("没有及时在手机上确认，付款已经取消。没有扣钱。",
                           "The payment was not confirmed in time and is cancelled. No money "
                           "was taken."),
    "say.code_cancelled": ("您取消了手机付款。没有扣钱。",
                           "You cancelled the phone payment. No money was taken."),
    "say.code_reversed": ("付款已经撤销。如果扣了钱，会退回您的手机。",
                          "The payment is cancelled. Any money taken goes back to your phone."),
    "say.code_unresolved": ("现在还不能确定有没有扣钱。如果扣了，会自动退回您的手机。需要帮助请拨打"
                            "服务电话。",
                            "We cannot tell yet whether money was taken. If it was, it goes "
                            "back to your phone by itself. For help, call the service phone."),
    "say.code_retry": ("可以再扫一次付款码，或者放钱缴费。",
                       "You can scan a payment code again, or pay with cash."),
    "say.code_offline": ("现在断网了，不能用手机付款。请放钱缴费。",
                         "The network is down, so paying by phone is not possible now. Please "
                         "pay with cash."),
    "say.code_unavailable": ("本机不能用手机付款。", "This terminal cannot take phone payments."),
    # the services menu and its errands (kiosk/flow/services_menu.py)
    "screen.choice": ("您要办什么事？请点一项。", "What would you like to do? Touch one."),
    "screen.choice.fault": ("哪里出了问题？请点一项。", "What is wrong? Touch one."),
    "screen.choice.outage": ("哪里停电了？请点一项。", "Where is the power off? Touch one."),
    "screen.choice.complaint": ("您要投诉什么？请点一项。",
                                "What is your complaint about? Touch one."),
    "screen.choice.suggestion": ("您的建议是关于什么的？请点一项。",
                                 "What is your suggestion about? Touch one."),
    "screen.choice.reasons": ("还有要补充的吗？最多选三项，然后点右下角的按钮。",
                              "Anything to add? Choose up to three, then touch the button at "
                              "the bottom right."),
    "screen.choice.ebill_what": ("要把什么发到您的手机上？请点一项。",
                                 "What should we send to your phone? Touch one."),
    "screen.phone": ("请用数字键输入您的手机号码，再点右下角的按钮。",
                     "Type your mobile number on the keys, then touch the button at the bottom "
                     "right."),
    "say.phone_invalid": ("这不是手机号码。手机号码是十一位数字，以十三到十九开头。",
                          "This is not a mobile number. It has eleven digits and starts with "
                          "thirteen to nineteen."),
    "say.too_many_reasons": ("最多只能选三项。", "You can choose up to three."),
    "screen.request_confirm": ("请看一下申请的内容。没错就点右下角的按钮。",
                               "Please check your request. If it is right, touch the button at "
                               "the bottom right."),
    "screen.request_done": ("您的申请已经记下了。请记下屏幕上的编号。",
                            "Your request is recorded. Please note the number on the screen."),
    "part.reference": ("编号是", "The number is"),
    "screen.history": ("这是您最近几个月的用电和缴费记录。",
                       "Here are your electricity use and payments of the last months."),
    "say.looking_up": ("正在查询，请稍等。", "Looking it up, please wait."),
    "say.history_unavailable": ("现在查不到您的记录：网络断了，本机也没有保存。",
                                "Your history cannot be shown now: the network is down and this "
                                "terminal has no copy of it."),
    "say.slip_failed": ("小票打不出来，请看屏幕。", "The slip cannot be printed. Please read the "
                                                 "screen."),
    # the fixed parts of phrases with an amount
    "part.owed": ("您欠费", "You owe"),
    "part.checking": ("正在识别您的", "Checking your"),
    "part.note": ("钞票", "note"),
    "part.received": ("已收", "Received"),
    "part.still_owed": ("还差", ""),
    "part.still_to_pay": ("", "still to pay"),
    "part.enough": ("钱已经够了，请点右下角的按钮完成缴费。",
                    "That is enough. Touch the button at the bottom right to finish."),
    "part.insert_left": ("还需要放", "Please put in"),
    "part.paid": ("缴费成功，本次缴费", "Payment done. You paid"),
}

#: a reference number is spelled one character a clip: digits are the number clips, letters these
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLIPS.update({f"letter.{ch}": (ch, ch) for ch in LETTERS})

#: number clip id → text, per language (what espeak-ng is given to say)
NUMBER_TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {**{f"num.{d}": t for d, t in enumerate("零一二三四五六七八九")},
              "num.ten": "十", "num.hundred": "百", "num.thousand": "千", "num.wan": "万",
              "unit.yuan": "元", "unit.jiao": "角", "unit.fen": "分"},
    "en": {**{f"num.{n}": t for n, t in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split())},
           **{f"num.{n}": t for n, t in zip(range(20, 100, 10), "twenty thirty forty fifty "
                                            "sixty seventy eighty ninety".split())},
           "num.hundred": "hundred", "num.thousand": "thousand",
           "unit.yuan": "yuan", "unit.fen": "fen"},
}
#: a phrase: fixed clips and amount slots ("{name}"), in each language's word order
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "say.owed": {"zh_CN": ("part.owed", "{amount}"), "en": ("part.owed", "{amount}")},
    "say.checking_note": {"zh_CN": ("part.checking", "{amount}", "part.note"),
                          "en": ("part.checking", "{amount}", "part.note")},
    # "已收五十元，还差七十八元五角" / "received fifty yuan, seventy-eight yuan fifty still to pay"
    "say.credited": {"zh_CN": ("part.received", "{paid}", "part.still_owed", "{left}"),
                     "en": ("part.received", "{paid}", "{left}", "part.still_to_pay")},
    "say.enough": {"zh_CN": ("part.received", "{paid}", "part.enough"),
                   "en": ("part.received", "{paid}", "part.enough")},
    "say.left": {"zh_CN": ("part.insert_left", "{amount}"),
                 "en": ("part.insert_left", "{amount}")},
    "say.paid": {"zh_CN": ("part.paid", "{amount}"), "en": ("part.paid", "{amount}")},
    # "编号是 K 3 F 0 …": a reference spelled character by character
    "say.reference": {"zh_CN": ("part.reference", "{ref}"), "en": ("part.reference", "{ref}")},
}


@dataclass(frozen=True)
class Prompt:
    """One thing said: its prompt id (what tests and the log name) and the clips, in order."""

    id: str
    clips: tuple[str, ...]


def text_of(clip: str, lang: str) -> str:
    if clip in CLIPS:
        return CLIPS[clip][LANGS.index(lang)]
    return NUMBER_TEXTS[lang][clip]


def spell(text: str) -> list[str]:
    """A reference number's clips, one per digit or letter (anything else is not said)."""
    return [f"num.{ch}" if ch.isdigit() else f"letter.{ch}"
            for ch in text.upper() if ch.isascii() and (ch.isdigit() or ch in LETTERS)]


def prompt(prompt_id: str, lang: str, **amounts: int | str) -> Prompt:
    """``prompt("say.credited", "zh_CN", paid=5000, left=7850)``: the clips of a phrase with its
    amounts spoken (a text slot, like ``ref="K3F0"``, is spelled); a plain clip id is a prompt of
    one clip. Parts empty in a language (English says "still to pay" after the amount, Chinese
    还差 before it) are left out."""
    template = PHRASES.get(prompt_id, {}).get(lang)
    if template is None:
        if prompt_id not in CLIPS:
            raise KeyError(f"no prompt {prompt_id!r}")
        return Prompt(prompt_id, (prompt_id,))
    clips: list[str] = []
    for part in template:
        if part.startswith("{"):
            value = amounts[part[1:-1]]
            clips += spell(value) if isinstance(value, str) else amount_clips(value, lang)
        elif text_of(part, lang):
            clips.append(part)
    return Prompt(prompt_id, tuple(clips))


def all_clips(lang: str) -> dict[str, str]:
    """Every clip id a prompt can use in ``lang``, with its text (what the manifest must hold)."""
    out = {cid: text_of(cid, lang) for cid in CLIPS if text_of(cid, lang)}
    out.update({cid: NUMBER_TEXTS[lang][cid] for cid in NUMBER_CLIPS[lang]})
    return out
