// A job's log in the page, bounded.  A job that prints millions of lines would otherwise have
// the tab keep and lay out every one of them: the page keeps the newest MAX_LINES lines (and at
// most MAX_CHARS characters, as one event may be 256 KiB), drops the oldest as new ones come,
// and says above the log how many it dropped and where to read them all.
import { el, fmtNum } from "./dom.js";

export const MAX_LINES = 10000;
const MAX_CHARS = 8 * 1024 * 1024;

// pre's data-lines counts the lines read since the stream began (it only grows, so that a
// reader can wait for more), data-shown those in the page, data-dropped those let go.
export function logView(jobId) {
  const pre = el("pre", { id: "log", dataset: { lines: 0, shown: 0, dropped: 0 } });
  const note = el("p", { class: "small", id: "log-trimmed" });
  pre.hidden = true; // until there is a stream to show
  note.hidden = true;
  let read = 0, dropped = 0, chars = 0, where = "";
  // The view keeps to the newest line, as `tail -f` does, until the reader scrolls up; it is
  // kept here rather than measured, as the first lines come before the page is in the document.
  let stuck = true;
  pre.addEventListener("scroll", () => { stuck = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4; });
  const toEnd = () => { if (stuck) pre.scrollTop = pre.scrollHeight; };
  // The lines read before the page is in the document (all of a job that has ended) cannot be
  // scrolled to then: the view goes to its newest line once it is laid out (and when its size
  // changes, as on a narrower window), unless the reader has scrolled up.
  new ResizeObserver(toEnd).observe(pre);

  const say = () => {
    pre.dataset.lines = read;
    pre.dataset.shown = pre.childNodes.length;
    pre.dataset.dropped = dropped;
    note.hidden = dropped === 0;
    if (dropped)
      note.replaceChildren(`${fmtNum(dropped)} earlier line${dropped === 1 ? " is" : "s are"} not shown: `,
        `the page keeps the newest ${fmtNum(pre.childNodes.length)}. Read the whole log with `,
        el("code", {}, `barge logs ${jobId}`), " or the CloudWatch Logs API's GetLogEvents", where, ".");
  };

  return {
    pre, note,
    // A new stream (a new attempt): the view starts anew.
    reset(group, stream) {
      pre.replaceChildren();
      read = dropped = chars = 0;
      stuck = true;
      where = ` (log group ${group}, stream ${stream})`;
      say();
    },
    // One answer's events, in order.  Each line is a text node of its own, so that the oldest
    // can be dropped without copying the rest.
    add(messages) {
      if (!messages.length) return;
      read += messages.length;
      const fresh = messages.slice(-MAX_LINES);
      dropped += messages.length - fresh.length; // never drawn
      const stick = stuck;
      const frag = document.createDocumentFragment();
      for (const m of fresh) {
        const t = document.createTextNode(m.replace(/\n$/, "") + "\n");
        chars += t.data.length;
        frag.append(t);
      }
      // Drop the oldest; a reader scrolled up keeps the lines they look at where they are.
      const before = stick ? 0 : pre.scrollHeight;
      let n = pre.childNodes.length + fresh.length, fromPage = 0;
      while (n > MAX_LINES || (chars > MAX_CHARS && n > 1)) {
        const first = pre.firstChild || frag.firstChild;
        if (first.parentNode === pre) fromPage++;
        chars -= first.data.length;
        first.remove();
        n--;
        dropped++;
      }
      if (fromPage && !stick) pre.scrollTop -= before - pre.scrollHeight;
      pre.append(frag);
      if (stick) {
        toEnd();
        requestAnimationFrame(toEnd); // once the page is drawn, if it was not yet
      }
      say();
    },
  };
}
