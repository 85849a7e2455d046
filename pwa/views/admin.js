// The admin role: administration happens in the server-rendered pages under /admin.

import { h, screen } from "./common.js";
import { devicePanel } from "./device.js";

export function home(ctx) {
  screen("Beheer",
    h("p", {}, "U bent beheerder. Scholen, organisaties, mensen, aanmeldlinks en apparaten " +
      "beheert u in het beheerscherm."),
    h("p", {}, h("a", { href: "/admin", class: "button button-primary" }, "Naar het beheer")),
    devicePanel(ctx.me, (me) => { ctx.setMe(me); ctx.refresh(); }, { notifications: false }));
}
