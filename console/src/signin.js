// Signing in: an access key id and secret (and a session token for temporary credentials),
// kept in sessionStorage, so they last as long as the tab and are sent to no one: they only
// sign requests.  A server started with --dev takes any key; one started with --credentials
// checks them, and its refusal is shown here.
import { batch, credentials, signIn, signOut } from "./api.js";
import { el, errorBox } from "./dom.js";

// Characters a pasted key may carry unseen (a zero-width space, a byte-order mark, a soft hyphen:
// Unicode's format characters) are dropped, as are spaces at either end; a key id or a session
// token holds no space at all.
const unseen = (s) => String(s || "").replace(/\p{Cf}/gu, "").trim();
const spaceless = (s) => unseen(s).replace(/\s/g, "");

// A key id or a session token is printable ASCII, and both are sent in headers, where another
// character (a letter with an accent, a typographic quote) makes fetch throw, which would read
// as a server that does not answer.
function strange(what, s) {
  const c = /[^\x21-\x7e]/u.exec(s);
  return c ? `The ${what} holds '${c[0]}' (U+${c[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}), ` +
             "a character keys never have: type it again, or paste it from where it was issued." : null;
}

// go(hash) shows the page of hash once signed in, even when the address is already there (a
// link opened in a fresh tab, a page whose signature was refused).
export function signinPage(error, then, go) {
  const c = credentials() || {};
  const err = el("div", { id: "signin-error" }, error ? errorBox(error) : null);
  const form = el("form", { id: "signin", class: "signin",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const c = { accessKeyId: spaceless(f.get("accessKeyId")), secretAccessKey: unseen(f.get("secretAccessKey")),
                  sessionToken: spaceless(f.get("sessionToken")) || undefined };
      const bad = strange("access key ID", c.accessKeyId) || strange("session token", c.sessionToken || "");
      if (bad) {
        err.replaceChildren(errorBox(bad));
        return;
      }
      signIn(c);
      err.replaceChildren(el("p", { class: "small" }, "Checking…"));
      try {
        await batch("DescribeJobQueues", { maxResults: 1 });
        window.dispatchEvent(new Event("barge-signed-in"));
        go(then && !then.startsWith("#/signin") ? then : "#/queues");
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
