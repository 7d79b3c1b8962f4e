// Signing in: an access key id and secret (and a session token for temporary credentials),
// kept in sessionStorage, so they last as long as the tab and are sent to no one: they only
// sign requests.  A server started with --dev takes any key; one started with --credentials
// checks them, and its refusal is shown here.
import { batch, credentials, signIn, signOut } from "./api.js";
import { el, errorBox } from "./dom.js";

export function signinPage(error, then) {
  const c = credentials() || {};
  const err = el("div", { id: "signin-error" }, error ? errorBox(error) : null);
  const form = el("form", { id: "signin", class: "signin",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      signIn({ accessKeyId: String(f.get("accessKeyId")).trim(),
               secretAccessKey: String(f.get("secretAccessKey")),
               sessionToken: String(f.get("sessionToken") || "").trim() || undefined });
      err.replaceChildren(el("p", { class: "small" }, "Checking…"));
      try {
        await batch("DescribeJobQueues", { maxResults: 1 });
        location.hash = then && !then.startsWith("#/signin") ? then : "#/queues";
        window.dispatchEvent(new Event("barge-signed-in"));
      } catch (e) {
        signOut();
        err.replaceChildren(errorBox(e));
      }
    } },
    el("label", {}, "Access key ID", el("input", { name: "accessKeyId", required: true, autocomplete: "username",
                                                    value: c.accessKeyId || "" })),
    el("label", {}, "Secret access key", el("input", { name: "secretAccessKey", type: "password", required: true,
                                                        autocomplete: "current-password" })),
    el("label", {}, "Session token (temporary credentials only)", el("input", { name: "sessionToken" })),
    el("button", { type: "submit" }, "Sign in"));
  return el("section", { class: "signin-page" },
    el("h1", {}, "Sign in"),
    el("p", {}, "The console signs every request to barge with these, as the AWS CLI does. ",
       "They stay in this tab (sessionStorage)."),
    err, form);
}
