// The enrolment link's token leaves the URL before anything else runs. A classic script, the
// first in index.html's <head>, so it runs before every module and before the page shows.
//
// history.replaceState alone is not enough: Chromium keeps the URL a tab was opened with on
// disk (the history entry's original request URL in its session files, measured in Chromium
// 156). So the token moves into window.name (memory of this tab only), the fragment is cut from
// the URL, and the page replaces itself with a fresh load of /aanmelden?: a history entry that
// never held the token, which Chromium's session log writes in place of the first one (it saves
// a few seconds after a change). On that load the token comes back out of window.name, and
// views/enrol.js takes it from self.hwcLinkToken.
(() => {
  const NAME_PREFIX = "hwc-enrol:";
  if (location.pathname === "/aanmelden" && location.hash.length > 1) {
    window.name = NAME_PREFIX + location.hash.slice(1);
    history.replaceState(null, "", "/aanmelden");
    location.replace("/aanmelden?");
    self.hwcLeaving = true; // app.js does not start on a page that is being replaced
  } else if (window.name.startsWith(NAME_PREFIX)) {
    self.hwcLinkToken = window.name.slice(NAME_PREFIX.length);
    window.name = "";
    history.replaceState(null, "", location.pathname);
  }
})();
