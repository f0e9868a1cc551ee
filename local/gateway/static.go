package gateway

import (
	"io"
	"net/http"
	"os"
)

// serveConfig answers /config.json, the page's runtime configuration, with
// the WebSocket URL on the host the browser used.
func (g *Gateway) serveConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c := g.cfg.Page
	c.WSURL = g.WebSocketURL(r.Host)
	writeJSON(w, c)
}

// staticHandler serves dir, or the built-in page when dir is empty or
// missing.
func staticHandler(dir string) http.Handler {
	if dir != "" {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return http.FileServer(http.Dir(dir))
		}
	}
	return http.HandlerFunc(builtinPage)
}

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GroupChat (local)</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body>
<h1>GroupChat — local stack</h1>
<p>The frontend has not been built, so this page only says how to connect.
The WebSocket endpoint is <code id="url">…</code> (see <a href="/config.json">/config.json</a>).</p>
<pre>websocat 'WSURL?name=Alice&amp;room=lobby'
{"action":"hello"}
{"action":"sendPublic","message":"hi all"}</pre>
<p>The frames are described in docs/protocol.md; the local stack in docs/local.md.</p>
<script>
fetch("/config.json").then(r => r.json()).then(c => {
  document.getElementById("url").textContent = c.wsUrl;
  const pre = document.querySelector("pre");
  pre.textContent = pre.textContent.replace("WSURL", c.wsUrl);
});
</script>
</body></html>
`

func builtinPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/index.html" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, page)
}
