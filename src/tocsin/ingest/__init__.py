"""E-mail ingestion: IMAP mailbox watchers and the inbound webhook's parsing and routing.

::

    config.py   the mailboxes file (TOCSIN_MAILBOXES_FILE)
    parse.py    RFC 822 bytes → subject, sender, recipients, dossier number
    worker.py   parsing in threads of its own, off the event loop
    routing.py  mailbox / recipient → (tenantId, userId)
    publish.py  → email-received notifications through the service, exactly once
    imap.py     the watchers (IDLE or polling, positions in the store, backoff)
"""

from tocsin.ingest.imap import MailboxWatchers, start_mailbox_watchers

__all__ = ["MailboxWatchers", "start_mailbox_watchers"]
