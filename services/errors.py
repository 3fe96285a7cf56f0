"""The one exception services raise for bad input or a refused action, and why, as a type."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why a service refused. Each has its polite line, `error_<value>`, in both languages of
    the catalogue (render/texts.py), which chat replies render; the English `reason` of the
    ServiceError is for the CLI and the logs only."""

    ADMIN_ONLY = "admin_only"
    BAD_CHARACTERS = "bad_characters"
    BAD_DELIVERY = "bad_delivery"
    BAD_HOUR = "bad_hour"
    BAD_LABEL = "bad_label"
    BAD_LANG = "bad_lang"
    BAD_OPML = "bad_opml"
    BAD_PROVINCE = "bad_province"
    BAD_ROLE = "bad_role"
    BAD_SENDER = "bad_sender"
    BAD_URL = "bad_url"
    BAD_USER_ID = "bad_user_id"
    BAD_WEEKDAY = "bad_weekday"
    BROADCAST_EMPTY = "broadcast_empty"
    BROADCAST_TOO_LONG = "broadcast_too_long"
    CHAT_GONE = "chat_gone"
    GRANT_NEEDS_PROVINCE = "grant_needs_province"
    GROUP_ADMIN_ONLY = "group_admin_only"
    ITEM_NOT_FOUND = "item_not_found"
    LAST_ADMIN = "last_admin"
    OPML_DUPLICATE = "opml_duplicate"
    OPML_TOO_MANY = "opml_too_many"
    REPORT_NOT_YOURS = "report_not_yours"
    REVOKE_CONFIGURED_ADMIN = "revoke_configured_admin"
    SOURCE_EXISTS = "source_exists"
    SOURCE_NOT_FOUND = "source_not_found"
    SOURCE_REFUSED = "source_refused"
    SOURCE_TEST_FAILED = "source_test_failed"
    SUB_EXISTS = "sub_exists"
    SUB_NOT_FOUND = "sub_not_found"
    TOO_LONG = "too_long"
    TOO_MANY_SUBS = "too_many_subs"
    UNKNOWN_PRESET = "unknown_preset"
    USER_NOT_FOUND = "user_not_found"


class ServiceError(Exception):
    """`code` picks the user's one polite line, rendered with `params`; `reason` is the detail
    in English for admins on the CLI and for the logs, never shown in chat."""

    def __init__(self, code: Refusal, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.params = params
