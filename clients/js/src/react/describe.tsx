/** How each kind looks in the list: the seed's icon, colour, title and details. */
import type { ReactElement } from "react";

import type { Messages } from "../core/i18n.js";
import type { AnyNotification } from "../core/types.js";
import { AlertIcon, BriefcaseIcon, InfoIcon, MailIcon } from "./icons.js";

export interface ItemView {
  icon: ReactElement;
  tone: string;
  title: string;
  meta: string;
  tags: { text: string; tone?: string }[];
  announce: string;
}

/** Blue envelope, green briefcase, red/orange/yellow alert by urgency, purple info. */
export function describeItem(item: AnyNotification, t: Messages): ItemView {
  switch (item.event) {
    case "email-received":
      return {
        icon: <MailIcon />,
        tone: "email",
        title: item.subject,
        meta: `${t.from} ${item.from}`,
        tags: item.dossierNumber ? [{ text: item.dossierNumber }] : [],
        announce: `${t.announce.email} : ${item.subject}`,
      };
    case "dossier-updated": {
      const action = t.actions[item.action] ?? item.action;
      return {
        icon: <BriefcaseIcon />,
        tone: "dossier",
        title: item.dossierTitle,
        meta: item.status ? `${action} · ${item.status}` : action,
        tags: [{ text: item.dossierNumber }],
        announce: `${t.announce.dossier} : ${item.dossierTitle}`,
      };
    }
    case "deadline-alert":
      return {
        icon: <AlertIcon />,
        tone: item.urgency,
        title: item.message,
        meta: `${capitalised(item.deadlineType)} · ${t.remaining(item.remainingDays)}`,
        tags: [{ text: t.urgency[item.urgency] ?? item.urgency, tone: item.urgency }, { text: item.dossierNumber }],
        announce: `${t.announce.deadline} (${t.urgency[item.urgency] ?? item.urgency}) : ${item.message}`,
      };
    case "system-notification":
      return {
        icon: item.type === "error" || item.type === "warning" ? <AlertIcon /> : <InfoIcon />,
        tone: item.type === "info" ? "system" : `system-${item.type}`,
        title: item.title,
        meta: item.message,
        tags: [],
        announce: `${t.announce.system} : ${item.title}`,
      };
    default:
      return { icon: <InfoIcon />, tone: "system", title: "", meta: "", tags: [], announce: "" };
  }
}

/** « signification » → « Signification » (the type heads its line; acronyms are unchanged). */
function capitalised(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}
