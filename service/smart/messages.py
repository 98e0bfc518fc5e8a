"""What the SMART app's user sees instead of a blank page: `Message`, a title and a
detail with the HTTP status of the page that shows it, and the messages the launch and
the record raise. The blueprint (`service.smart.views`) answers them as an HTML page,
or as an OperationOutcome for the page's script.
"""

from __future__ import annotations

__all__ = ["Message", "expired", "not_allowed", "not_smart", "restart"]


class Message(Exception):
    """A clear message for the user, with the HTTP status of the page that shows it."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail


def not_allowed() -> Message:
    return Message(
        400,
        "This FHIR server is not one this app may use.",
        "The app reads only the service's own demo FHIR server and the servers its "
        "administrator lists in SCLC_CDS_FHIR_SERVERS. Nothing was sent to it.",
    )


def expired() -> Message:
    return Message(401, "Your session has expired; launch the app again from the EHR.")


def not_smart() -> Message:
    return Message(
        502,
        "This FHIR server does not offer a SMART App Launch the app can use.",
        "Its .well-known/smart-configuration could not be read, or names endpoints "
        "the app may not use, or does not offer PKCE with S256.",
    )


def restart(detail: str) -> Message:
    return Message(400, "This sign-in cannot be completed; launch the app again.", detail)
