"""The operator page's words, in French (the default, as the rest of the UI) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]

WORDS: dict[Lang, dict[str, str]] = {
    "fr": {
        "title": "Tocsin — exploitation",
        "signin_title": "Connexion à l'exploitation",
        "signin_intro": "Saisissez la clé d'administration (TOCSIN_ADMIN_KEY) de ce serveur.",
        "key": "Clé d'administration",
        "signin": "Se connecter",
        "signout": "Se déconnecter",
        "wrong_key": "Clé refusée.",
        "too_many": "Trop de tentatives : réessayez dans quelques minutes.",
        "no_admin_key": "TOCSIN_ADMIN_KEY n'est pas défini : la page d'exploitation est fermée.",
        "connections": "Connexions par cabinet (tout le cluster)",
        "tenant": "Cabinet",
        "sockets": "Connexions",
        "total": "Total",
        "nodes": "Nœuds",
        "node": "Nœud",
        "this_node": "ce nœud",
        "none": "Aucune",
        "publishes": "Publications par minute (tout le cluster)",
        "last_minute": "Dernière minute",
        "minute": "Minute",
        "count": "Nombre",
        "capped": "au moins",
        "notifications": "Dernières notifications",
        "event": "Événement",
        "audience": "Destinataire",
        "summary": "Contenu",
        "accepted": "Reçue",
        "deliveries": "Remises (push, e-mail)",
        "no_deliveries": "aucune",
        "jobs_pending": "Tâches en attente",
        "jobs_failed": "Tâches en échec",
        "kind": "Type",
        "run_at": "Échéance",
        "attempts": "Essais",
        "error": "Erreur",
        "key_col": "Clé",
        "test_publish": "Publication de test",
        "tenant_id": "Cabinet (tenantId)",
        "user_id": "Utilisateur (userId, vide : tout le cabinet)",
        "level": "Niveau",
        "title_field": "Titre",
        "message": "Message",
        "publish": "Publier",
        "published": "Publiée",
        "refreshed": "Mis à jour",
        "refresh_failed": "Mise à jour impossible",
        "everyone": "tout le cabinet",
        "language": "English",
    },
    "en": {
        "title": "Tocsin — operations",
        "signin_title": "Operator sign-in",
        "signin_intro": "Enter this server's admin key (TOCSIN_ADMIN_KEY).",
        "key": "Admin key",
        "signin": "Sign in",
        "signout": "Sign out",
        "wrong_key": "Key refused.",
        "too_many": "Too many attempts: try again in a few minutes.",
        "no_admin_key": "TOCSIN_ADMIN_KEY is not set: the operator page is closed.",
        "connections": "Connections per firm (whole cluster)",
        "tenant": "Firm",
        "sockets": "Connections",
        "total": "Total",
        "nodes": "Nodes",
        "node": "Node",
        "this_node": "this node",
        "none": "None",
        "publishes": "Publishes per minute (whole cluster)",
        "last_minute": "Last minute",
        "minute": "Minute",
        "count": "Count",
        "capped": "at least",
        "notifications": "Latest notifications",
        "event": "Event",
        "audience": "Recipient",
        "summary": "Content",
        "accepted": "Received",
        "deliveries": "Deliveries (push, e-mail)",
        "no_deliveries": "none",
        "jobs_pending": "Pending jobs",
        "jobs_failed": "Failed jobs",
        "kind": "Kind",
        "run_at": "Due",
        "attempts": "Attempts",
        "error": "Error",
        "key_col": "Key",
        "test_publish": "Test publish",
        "tenant_id": "Firm (tenantId)",
        "user_id": "User (userId, empty: the whole firm)",
        "level": "Level",
        "title_field": "Title",
        "message": "Message",
        "publish": "Publish",
        "published": "Published",
        "refreshed": "Updated",
        "refresh_failed": "Update failed",
        "everyone": "the whole firm",
        "language": "Français",
    },
}


def pick_lang(query: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` when it is fr or en, else the first of fr/en in ``Accept-Language``
    (by the browser's order of preference), else French."""
    if query in ("fr", "en"):
        return "en" if query == "en" else "fr"
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("en"):
            return "en"
        if tag.startswith("fr"):
            return "fr"
    return "fr"
