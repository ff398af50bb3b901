/** What the page at `/` tells a visitor it cannot identify: why, and the ways in. */
import type { ReactElement } from "react";

import type { Locale } from "../core/i18n.js";

const REASONS: Record<Locale, Record<string, string>> = {
  fr: {
    missing_token: "Vous n'êtes pas connecté.",
    expired: "Votre session a expiré.",
    invalid_token: "Ce serveur n'accepte pas votre session ni votre jeton.",
    no_tenant: "Votre session n'indique pas votre cabinet (tenantId).",
  },
  en: {
    missing_token: "You are not signed in.",
    expired: "Your session has expired.",
    invalid_token: "This server does not accept your session or token.",
    no_tenant: "Your session does not say which firm you belong to (tenantId).",
  },
};

const TOKEN_COMMAND = "tocsin token --user alice --tenant firm-a";

/** The signed-out card's text, in the page's language, with a link to the other one. */
export function SignedOutHelp({ locale, reason }: { locale: Locale; reason: string }): ReactElement {
  const why = REASONS[locale][reason] ?? REASONS[locale].missing_token;
  const tokenUrl = `${window.location.origin}${window.location.pathname}#token=…`;
  if (locale === "en") {
    return (
      <>
        <p><strong>{why}</strong> <code>{reason}</code></p>
        <p>This page shows the notifications of the signed-in user. To see yours:</p>
        <ul>
          <li><b>Sign in through your app</b>: when Tocsin is served on the app's host and shares its secret (<code>AUTH_SECRET</code> or <code>NEXTAUTH_SECRET</code>), it reads the app's NextAuth / Auth.js session.</li>
          <li><b>Try the demo</b>: <code>make demo</code> runs a law firm with a sign-in page.</li>
          <li><b>Pass a token</b>: start the server with <code>TOCSIN_JWT_SECRET</code> set, run <code>{TOKEN_COMMAND}</code> with the same secret, then open <code>{tokenUrl}</code> with the token it printed.</li>
        </ul>
        <p className="page-note"><code>tocsin checktoken</code> tells why a token is refused · <a href="docs">API</a> · <a href="?lang=fr" hrefLang="fr">Français</a></p>
      </>
    );
  }
  return (
    <>
      <p><strong>{why}</strong> <code>{reason}</code></p>
      <p>Cette page montre les notifications de l'utilisateur connecté. Pour voir les vôtres :</p>
      <ul>
        <li><b>Connectez-vous dans votre application</b> : servi sur le même hôte qu'elle et avec son secret (<code>AUTH_SECRET</code> ou <code>NEXTAUTH_SECRET</code>), Tocsin lit sa session NextAuth / Auth.js.</li>
        <li><b>Essayez la démo</b> : <code>make demo</code> lance un cabinet fictif, avec sa page de connexion.</li>
        <li><b>Passez un jeton</b> : lancez le serveur avec <code>TOCSIN_JWT_SECRET</code>, exécutez <code>{TOKEN_COMMAND}</code> avec le même secret, puis ouvrez <code>{tokenUrl}</code> avec le jeton obtenu.</li>
      </ul>
      <p className="page-note"><code>tocsin checktoken</code> dit pourquoi un jeton est refusé · <a href="docs">API</a> · <a href="?lang=en" hrefLang="en">English</a></p>
    </>
  );
}
