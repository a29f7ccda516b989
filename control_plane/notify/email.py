"""Email over SMTP: a plain-text message per recipient, with STARTTLS and authentication when configured.

The ``Message-ID`` is the notification's id, so a receiving system (or a person) can tell a duplicate from a
new message. SMTP's own reply decides what follows: 4xx is transient, 5xx permanent; a connection that breaks
once the message is being transferred leaves it uncertain (it may have been accepted).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from control_plane.notify.errors import PermanentDelivery, TransientDelivery, UncertainDelivery
from control_plane.settings import Settings

TIMEOUT_SECONDS = 30.0


def message(settings: Settings, notification_id: str, to: str, subject: str, text: str) -> EmailMessage:
    sender = settings.smtp_from or ""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{notification_id}@{sender.rpartition('@')[2] or 'costory'}>"
    mail.set_content(text)
    return mail


def send(settings: Settings, notification_id: str, to: str, masked: str, subject: str, text: str) -> None:
    """Send one message to ``to``; raises a ``DeliveryError`` saying whether it may be tried again.
    ``masked`` is how messages name the recipient."""
    if not settings.smtp_host:
        raise PermanentDelivery(
            "No SMTP server is configured: set COSTORY_SMTP_HOST and COSTORY_SMTP_FROM (and COSTORY_SMTP_USERNAME / "
            "COSTORY_SMTP_PASSWORD if it requires authentication)."
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    mail = message(settings, notification_id, to, subject, text)
    where = f"{settings.smtp_host}:{settings.smtp_port}"

    def scrub(reply: bytes | str) -> str:
        said = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        if password:
            said = said.replace(password, "[redacted]")
        return " ".join(said.replace(to, masked).split())[:200]

    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    except smtplib.SMTPResponseException as error:  # its greeting refused us
        raise _by_code(error, where, scrub, "on connecting") from None
    except OSError as error:
        raise TransientDelivery(f"The SMTP server {where} could not be reached ({type(error).__name__}).") from None
    try:
        try:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, password)
        except smtplib.SMTPNotSupportedError:
            raise PermanentDelivery(
                f"The SMTP server {where} does not offer STARTTLS. Use a server that does, or set "
                "COSTORY_SMTP_STARTTLS=false for a relay on loopback or a private network."
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise PermanentDelivery(
                f"The SMTP server {where} presented a certificate that is not trusted ({error.verify_message}). Give "
                "it a certificate from a trusted authority, or add its CA to the trusted certificates (SSL_CERT_FILE)."
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentDelivery(
                f"The SMTP server {where} refused COSTORY_SMTP_USERNAME / COSTORY_SMTP_PASSWORD "
                f"({error.smtp_code}: {scrub(error.smtp_error)}). Set the right credentials."
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise _by_code(error, where, scrub, "before the message was sent") from None
        try:
            refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            code, said = next(iter(error.recipients.values()))
            raise _classify(code, f"The SMTP server {where} refused {masked} ({code}: {scrub(said)})") from None
        except smtplib.SMTPResponseException as error:
            raise _classify(
                error.smtp_code,
                f"The SMTP server {where} refused the message ({error.smtp_code}: {scrub(error.smtp_error)})",
            ) from None
        except OSError:  # smtplib's errors are OSErrors too: a disconnect, a timeout
            raise UncertainDelivery(
                f"The connection to the SMTP server {where} broke while the message was being sent: it may have been "
                f"accepted. Check {masked}'s inbox or the server's log; it is not resent automatically."
            ) from None
        if refused:  # one recipient per message: a partial refusal cannot happen, but never pass it silently
            code, said = next(iter(refused.values()))
            raise _classify(code, f"The SMTP server {where} refused {masked} ({code}: {scrub(said)})")
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _classify(code: int, what: str) -> TransientDelivery | PermanentDelivery:
    if 400 <= code < 500:
        return TransientDelivery(f"{what}; it is retried.")
    return PermanentDelivery(f"{what}. Check the address and the server's policy.")


def _by_code(error: Exception, where: str, scrub, when: str) -> TransientDelivery | PermanentDelivery:
    if isinstance(error, smtplib.SMTPResponseException):
        return _classify(
            error.smtp_code, f"The SMTP server {where} answered {error.smtp_code} {when}: {scrub(error.smtp_error)}"
        )
    return TransientDelivery(f"The connection to the SMTP server {where} broke {when} ({type(error).__name__}).")
