//! A small W3C WebDriver client for the browser tests: Debian's `chromedriver` driving headless
//! `chromium`, both on loopback.
//!
//! WebDriver is a dozen JSON-over-HTTP endpoints; speaking them over the `reqwest` the tests
//! already link costs about 200 lines, where a client crate (fantoccini, thirtyfour) would add
//! the `webdriver` crate with ICU segmentation and a second HTTP stack to every test build.
//! Waits are bounded loops that end by themselves, with the page's state in the failure message.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::block_on;

/// The key of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Set to `1` (as `.ci/run` does) to fail instead of skipping when Chromium is missing.
const REQUIRE_ENV: &str = "COMET_REQUIRE_BROWSER";

/// An element of the page.
#[derive(Clone, Debug)]
pub(crate) struct Element(String);

/// A headless Chromium session.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: tempfile::TempDir,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`x`height`; `None` (the test skips)
    /// if they are not installed and [`REQUIRE_ENV`] is not set.
    pub(crate) fn start(width: u32, height: u32) -> Option<Self> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{REQUIRE_ENV}=1 but {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no {CHROMEDRIVER} / {CHROMIUM} (set {REQUIRE_ENV}=1 to require them)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Self {
            driver,
            base: format!("http://{addr}"),
            session: String::new(),
            profile,
            http: reqwest::Client::new(),
        };
        // The flags of a closed network: no background traffic, no sandbox as root in CI.
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", browser.profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let answer = browser.call("POST", "/session", Some(&caps));
        answer["sessionId"].as_str().expect("a session id").clone_into(&mut browser.session);
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = if path == "/session" { format!("{}{path}", self.base) } else { self.url(path) };
        let (status, answer) = block_on(async {
            let request = match method {
                "GET" => self.http.get(&url),
                "DELETE" => self.http.delete(&url),
                _ => post_json(&self.http, &url, body.unwrap_or(&json!({}))),
            };
            let response = request.timeout(Duration::from_secs(120)).send().await.expect("chromedriver answers");
            let status = response.status().as_u16();
            (status, json_of(response).await)
        });
        assert_eq!(status, 200, "WebDriver {method} {path} {body:?}: {answer}");
        answer["value"].clone()
    }

    fn try_call(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let url = self.url(path);
        block_on(async {
            let request = if method == "GET" { self.http.get(&url) } else { post_json(&self.http, &url, body) };
            let response = request.timeout(Duration::from_secs(120)).send().await.map_err(|e| e.to_string())?;
            let ok = response.status().is_success();
            let answer = json_of(response).await;
            if ok { Ok(answer["value"].clone()) } else { Err(answer["value"]["message"].to_string()) }
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    /// Opens `url`.
    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Resizes the window.
    pub(crate) fn resize(&self, width: u32, height: u32) {
        self.call("POST", "/window/rect", Some(&json!({"width": width, "height": height})));
    }

    /// Runs a script (`arguments[0]`... are `args`) and gives its result.
    pub(crate) fn script(&self, script: &str, args: &[Value]) -> Value {
        self.call("POST", "/execute/sync", Some(&json!({"script": script, "args": args})))
    }

    /// The elements matching a CSS selector now.
    pub(crate) fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.call("POST", "/elements", Some(&json!({"using": "css selector", "value": css})));
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Element(e[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element: {found}")).to_owned()))
            .collect()
    }

    /// Waits (at most `secs`) until a displayed element matches `css`; that element.
    pub(crate) fn wait_for(&self, css: &str, secs: u64) -> Element {
        self.wait_until(&format!("{css} to show"), secs, || self.find_all(css).into_iter().find(|e| self.displayed(e)))
    }

    /// Waits (at most `secs`) until `check` gives something; panics naming `what` and the page.
    pub(crate) fn wait_until<T>(&self, what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            if started.elapsed() > Duration::from_secs(secs) {
                let page = self.script("return document.body ? document.body.innerText : ''", &[]);
                let url = self.script("return location.href", &[]);
                panic!("waited {secs} s for {what}; at {url}, the page shows:\n{}", page.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until the app rendered page `name` (`main#main[data-page=name]`, not busy).
    pub(crate) fn wait_page(&self, name: &str) {
        self.wait_for(&format!("main#main[data-page=\"{name}\"][aria-busy=\"false\"]"), 60);
    }

    /// Whether an element is displayed.
    pub(crate) fn displayed(&self, e: &Element) -> bool {
        self.try_call("GET", &format!("/element/{}/displayed", e.0), &Value::Null).is_ok_and(|v| v == json!(true))
    }

    /// Clicks an element (retrying while something covers it, such as a closing dialog).
    pub(crate) fn click(&self, e: &Element) {
        let path = format!("/element/{}/click", e.0);
        self.wait_until("a clickable element", 20, || self.try_call("POST", &path, &json!({})).ok());
    }

    /// Clicks the displayed element matching `css`, waiting for it.
    pub(crate) fn click_on(&self, css: &str) {
        let e = self.wait_for(css, 60);
        self.click(&e);
    }

    /// Replaces the text of the input matching `css`.
    pub(crate) fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css, 30);
        self.call("POST", &format!("/element/{}/clear", e.0), Some(&json!({})));
        self.call("POST", &format!("/element/{}/value", e.0), Some(&json!({ "text": text })));
    }

    /// Chooses the option of value `value` of the `<select>` matching `css`, as a click would.
    pub(crate) fn choose(&self, css: &str, value: &str) {
        self.wait_for(&format!("{css} option[value=\"{value}\"]"), 60);
        let e = self.wait_for(css, 30);
        let option = self.call(
            "POST",
            &format!("/element/{}/element", e.0),
            Some(&json!({"using": "css selector", "value": format!("option[value=\"{value}\"]")})),
        );
        self.click(&Element(option[ELEMENT_KEY].as_str().unwrap().to_owned()));
        let chosen = self.script("return document.querySelector(arguments[0]).value", &[json!(css)]);
        assert_eq!(chosen, json!(value), "{css} took the choice");
    }

    /// The visible text of an element.
    pub(crate) fn text(&self, e: &Element) -> String {
        self.try_call("GET", &format!("/element/{}/text", e.0), &Value::Null)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The visible text of the element matching `css` (empty if none).
    pub(crate) fn text_of(&self, css: &str) -> String {
        self.find_all(css).first().map(|e| self.text(e)).unwrap_or_default()
    }

    /// An attribute of an element.
    pub(crate) fn attr(&self, e: &Element, name: &str) -> Option<String> {
        let v = self.call("GET", &format!("/element/{}/attribute/{name}", e.0), None);
        v.as_str().map(str::to_owned)
    }

    /// Saves a PNG of the viewport to `path`.
    pub(crate) fn screenshot(&self, path: &PathBuf) {
        use base64::Engine as _;
        let data = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> reqwest::RequestBuilder {
    http.post(url).header("Content-Type", "application/json").body(body.to_string())
}

async fn json_of(response: reqwest::Response) -> Value {
    response.text().await.ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let http = self.http.clone();
            let _ = block_on(async move { http.delete(url).timeout(Duration::from_secs(10)).send().await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
