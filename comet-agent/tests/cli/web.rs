//! The web interface in a real browser (headless Chromium through chromedriver), against the
//! real `comet-server` binary and a real `comet-agent run` daemon on loopback: what an
//! administrator and a user do in a day, as the interface offers it.
//!
//! Skipped when Chromium is not installed, unless `COMET_REQUIRE_BROWSER=1` (`.ci/run` installs
//! it and sets that). The screenshots of the documentation (`docs/web.md`) are taken here, into
//! `docs/screenshots/` (or `COMET_SCREENSHOTS`); with `COMET_SCREENSHOTS_ALL=1`, also of every
//! other page and tab (`all-*.png`), to review the design.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::common::write_work_tree;
use super::server::{ADMIN_PASSWORD, Device, Server};
use super::webdriver::Browser;

const PASSWORD: &str = "carol's long password";

/// One browser test at a time: two Chromiums on a two-core machine only slow both down.
static BROWSER_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn screenshots() -> PathBuf {
    std::env::var_os("COMET_SCREENSHOTS")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"), PathBuf::from)
}

/// The controls of the page (and of an open dialog) that a screen reader could not name: no
/// label, `aria-label` or text; images without `alt`.
const UNNAMED_CONTROLS: &str = "
    const unnamed = [];
    for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea, button')) {
        if (!c.getClientRects().length) continue;
        const labels = c.labels ? [...c.labels].map((l) => l.textContent).join(' ') : '';
        const name = c.getAttribute('aria-label') || labels || (c.tagName === 'BUTTON' ? c.textContent : '');
        if (!name.trim()) unnamed.push(c.outerHTML.slice(0, 160));
    }
    for (const i of document.querySelectorAll('img')) if (!i.hasAttribute('alt')) unnamed.push(i.outerHTML.slice(0, 160));
    return unnamed;";

/// Screenshots of the current page at a laptop's and a phone's size, as `<name>-1280x800.png`
/// and `<name>-390x844.png`; `page` is the view to wait for after each resize. Every control on
/// show must have a name.
fn shoot(b: &Browser, name: &str, page: &str) {
    assert_eq!(b.script(UNNAMED_CONTROLS, &[]), json!([]), "controls without a name on {name}");
    for (w, h) in [(390, 844), (1280, 800)] {
        b.resize(w, h);
        b.wait_page(page);
        std::thread::sleep(Duration::from_millis(300));
        b.screenshot(&screenshots().join(format!("{name}-{w}x{h}.png")));
    }
}

fn sign_in(b: &Browser, url: &str, kind: &str, user: &str, password: &str) {
    b.goto(&format!("{url}/#/signin"));
    b.wait_page("signin");
    b.fill("#signin-username", user);
    b.fill("#signin-password", password);
    b.click_on(&format!("input[name=\"kind\"][value=\"{kind}\"]"));
    b.click_on("#signin-submit");
}

fn sign_out(b: &Browser) {
    b.click_on("#signout");
    b.wait_page("signin");
}

fn go(b: &Browser, route: &str, page: &str) {
    b.click_on(&format!("nav#nav a[href=\"#/{route}\"]"));
    b.wait_page(page);
}

/// Waits until the page's main area shows `text`.
fn wait_text(b: &Browser, text: &str, secs: u64) {
    b.wait_until(&format!("the page to show {text:?}"), secs, || b.text_of("main#main").contains(text).then_some(()));
}

/// The job id of the job page on show.
fn job_on_page(b: &Browser) -> String {
    let hash = b.script("return location.hash", &[]);
    hash.as_str().unwrap().strip_prefix("#/jobs/").expect("the job page").to_owned()
}

/// Waits until the job page shows a final status; that status's name.
fn wait_job_end(b: &Browser) -> String {
    b.wait_until("the job to end", 240, || {
        let status = b.text_of("#job-status");
        (!status.is_empty() && status != "Running").then_some(status)
    })
}

/// A user with a logged-in device and a finished backup job: what another user must not see.
fn other_user_with_a_job(server: &Server) -> (String, String) {
    server.add_user("dave", "dave's long password");
    let dave = Device::new();
    write_work_tree(&dave.fixture.src());
    assert_eq!(dave.login("dave", "dave's long password", &server.url(), "dave-pc").code, 0);
    let device = dave.id();
    let include = dave.fixture.src().join("work");
    server.edit_profile("dave", |p| {
        p["Sources"] = json!({ "d1": { "Description": "Dave's files", "Engine": "engine1/file", "OwnerDevice": device,
            "EngineProps": { "INCLUDE0": include.to_str().unwrap() } } });
        p["Destinations"] = json!({ "dv": { "Description": "Dave's vault", "DestinationType": 1003 } });
    });
    dave.ok(&["backup", "--item", "Dave's files"]);
    let job = server.jobs("dave")[0]["GUID"].as_str().unwrap().to_owned();
    (device, job)
}

/// The id of the profile entry of `section` whose `Description` is `name`.
fn id_named(profile: &Value, section: &str, name: &str) -> String {
    profile[section]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| v["Description"] == name)
        .unwrap_or_else(|| panic!("no {section} named {name:?} in {profile}"))
        .0
        .clone()
}

#[test]
fn an_administrator_backs_up_and_restores_from_the_browser_and_a_user_sees_only_their_own() {
    let _one = BROWSER_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(b) = Browser::start(1280, 800) else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let url = server.url();
    let (dave_device, dave_job) = other_user_with_a_job(&server);

    // The administrator signs in and creates a user.
    sign_in(&b, &url, "admin", "admin", ADMIN_PASSWORD);
    b.wait_page("dashboard");
    go(&b, "users", "users");
    b.click_on("#user-new");
    b.fill("#new-user-name", "carol");
    b.fill("#new-user-password", PASSWORD);
    b.click_on("#dlg-new-user button[type=\"submit\"]");
    b.wait_for("tr[data-user=\"carol\"]", 30);
    assert!(server.admin_ok("list-users", &[]).as_array().unwrap().contains(&json!("carol")));

    // Carol's laptop logs in and runs the daemon.
    let laptop = Device::new();
    write_work_tree(&laptop.fixture.src());
    assert_eq!(laptop.login("carol", PASSWORD, &url, "laptop").code, 0);
    let device = laptop.id();
    let daemon = laptop.daemon();
    server.wait_online(&device);

    // On carol's page: her device is online; a protected item and a vault are added.
    b.click_on("tr[data-user=\"carol\"] a");
    b.wait_page("user");
    b.click_on("#tab-devices");
    wait_text(&b, "laptop", 30);
    wait_text(&b, "Online", 30);
    let include = laptop.fixture.src().join("work");
    b.click_on("#tab-items");
    b.click_on("#item-new");
    b.fill("#item-name", "Documents");
    b.choose("#item-device", &device);
    b.fill("#item-includes", include.to_str().unwrap());
    b.fill("#item-excludes", "*.tmp");
    b.click_on("#dlg-item button[type=\"submit\"]");
    wait_text(&b, "Documents", 30);
    b.click_on("#tab-vaults");
    b.click_on("#vault-new");
    b.fill("#vault-name", "Server vault");
    b.choose("#vault-type", "1003");
    b.click_on("#dlg-vault button[type=\"submit\"]");
    wait_text(&b, "Server vault", 30);
    let profile = server.profile("carol");
    let item = id_named(&profile, "Sources", "Documents");
    let vault = id_named(&profile, "Destinations", "Server vault");
    assert_eq!(profile["Sources"][&item]["OwnerDevice"], json!(device));
    assert_eq!(profile["Sources"][&item]["EngineProps"]["INCLUDE0"], json!(include.to_str().unwrap()));
    assert_eq!(profile["Sources"][&item]["EngineProps"]["EXCLUDE0"], json!("*.tmp"));
    assert_eq!(profile["Destinations"][&vault]["DestinationType"], json!(1003));
    b.click_on("#tab-items");
    shoot(&b, "user", "user");

    // Somebody else edits the profile meanwhile: the page's next edit is refused, with a clear
    // message and a way to reload, and nothing of it is stored.
    server.edit_profile("carol", |p| p["Emails"] = json!(["carol@example.com"]));
    b.click_on("#tab-vaults");
    b.click_on("#vault-new");
    b.fill("#vault-name", "Second vault");
    b.click_on("#dlg-vault button[type=\"submit\"]");
    b.wait_until("the conflict to show", 30, || {
        b.text_of("#page-error").contains("somebody else changed").then_some(())
    });
    assert!(!server.profile("carol").to_string().contains("Second vault"), "a stale edit is not stored");
    b.click_on("#conflict-reload");
    b.wait_page("user");
    wait_text(&b, "carol@example.com", 30);

    // The device is online on the devices page; "run backup" runs a job that reaches Success.
    go(&b, "devices", "devices");
    let row = format!("tr[data-device=\"{device}\"]");
    b.wait_until("the device to show online", 60, || (b.text_of(&format!("{row} td.state")) == "Online").then_some(()));
    shoot(&b, "devices", "devices");
    b.click_on(&format!("{row} button.run-backup"));
    b.choose("#run-item", &item);
    b.choose("#run-vault", &vault);
    b.click_on("#run-submit");
    b.wait_page("job");
    let backup_job = job_on_page(&b);
    assert_eq!(wait_job_end(&b), "Success", "{}", daemon.log());
    let job = server.jobs("carol").into_iter().find(|j| j["GUID"] == backup_job.as_str()).expect("the job");
    assert_eq!((job["Status"].as_u64(), job["Classification"].as_u64()), (Some(5000), Some(4001)));
    // Its log, on the job page.
    b.wait_for("table#job-log tbody tr", 30);
    assert!(b.find_all("table#job-log tbody tr").len() >= 2, "the job's log is shown");
    shoot(&b, "job", "job");

    // Restore one file through the restore dialog, to a new path.
    go(&b, "devices", "devices");
    b.click_on(&format!("{row} button.restore"));
    b.choose("#restore-item", &item);
    b.choose("#restore-vault", &vault);
    let snapshot = job["SnapshotID"].as_str().unwrap().to_owned();
    b.choose("#restore-snapshot", &snapshot);
    let mut path = String::new();
    for part in &include.strip_prefix("/").unwrap().join("docs") {
        path = if path.is_empty() {
            part.to_str().unwrap().to_owned()
        } else {
            format!("{path}/{}", part.to_str().unwrap())
        };
        b.click_on(&format!("ul#restore-tree li[data-path=\"{path}\"] button"));
    }
    b.click_on(&format!("ul#restore-tree li[data-path=\"{path}/a.txt\"] input[type=\"checkbox\"]"));
    let target = laptop.fixture.path("restored-from-the-web");
    b.fill("#restore-target", target.to_str().unwrap());
    shoot(&b, "restore", "devices");
    b.click_on("#restore-submit");
    b.wait_page("job");
    let restore_job = job_on_page(&b);
    assert_ne!(restore_job, backup_job);
    assert_eq!(wait_job_end(&b), "Success", "{}", daemon.log());
    let restored = target.join(include.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read_to_string(restored.join("docs/a.txt")).unwrap(), "first document\n");
    assert!(!restored.join("docs/b.md").exists(), "only the picked file is restored");
    assert!(!restored.join("readme.txt").exists(), "only the picked file is restored");

    if std::env::var_os("COMET_SCREENSHOTS_ALL").is_some() {
        for (route, page) in [
            ("users", "users"),
            ("jobs", "jobs"),
            ("storage", "storage"),
            ("settings", "settings"),
            ("account", "account"),
        ] {
            go(&b, route, page);
            shoot(&b, &format!("all-{route}"), page);
        }
        for tab in ["devices", "vaults", "schedules", "reports"] {
            go(&b, "users", "users");
            b.click_on("tr[data-user=\"carol\"] a");
            b.wait_page("user");
            b.click_on(&format!("#tab-{tab}"));
            shoot(&b, &format!("all-tab-{tab}"), "user");
        }
    }
    // The dashboard, with the jobs of the day.
    go(&b, "dashboard", "dashboard");
    wait_text(&b, "laptop", 30);
    shoot(&b, "dashboard", "dashboard");
    sign_out(&b);

    // Carol signs in (her password never reaches the server: the browser derives the login
    // secret) and sees her own device and jobs only.
    sign_in(&b, &url, "user", "carol", PASSWORD);
    b.wait_page("dashboard");
    go(&b, "devices", "devices");
    b.wait_for(&format!("tr[data-device=\"{device}\"]"), 30);
    let devices: Vec<String> =
        b.find_all("tr[data-device]").iter().map(|e| b.attr(e, "data-device").unwrap()).collect();
    assert_eq!(devices, std::slice::from_ref(&device), "carol sees her device only (not {dave_device})");
    go(&b, "jobs", "jobs");
    b.wait_for(&format!("tr[data-job=\"{restore_job}\"]"), 30);
    let mut jobs: Vec<String> = b.find_all("tr[data-job]").iter().map(|e| b.attr(e, "data-job").unwrap()).collect();
    jobs.sort();
    let mut expected = vec![backup_job.clone(), restore_job.clone()];
    expected.sort();
    assert_eq!(jobs, expected, "carol sees her jobs only (not {dave_job})");
    shoot(&b, "jobs", "jobs");
    // Her own protected items and vaults, on her profile page, without an administrator's actions.
    go(&b, "profile", "user");
    b.click_on("#tab-items");
    wait_text(&b, "Documents", 30);
    b.click_on("#tab-vaults");
    wait_text(&b, "Server vault", 30);
    assert!(b.find_all("#user-delete").is_empty(), "no administrator's actions for a user");
    if std::env::var_os("COMET_SCREENSHOTS_ALL").is_some() {
        for (route, page) in [("account", "account"), ("dashboard", "dashboard")] {
            go(&b, route, page);
            shoot(&b, &format!("all-user-{route}"), page);
        }
    }
    // An administrator's page is refused by the server, not only hidden.
    b.goto(&format!("{url}/#/users"));
    b.wait_page("denied");
    let refusal = b.text_of("#page-error");
    assert!(refusal.to_lowercase().contains("administrator"), "the refusal says why: {refusal:?}");
    assert!(b.find_all("tr[data-user]").is_empty(), "no user list for a user");
    sign_out(&b);
    daemon.kill();
}

/// RFC 6238 code of a base32 secret at `step`, computed here independently of the server.
pub(crate) fn totp_code(secret_base32: &str, step: u64) -> String {
    use hmac::Mac as _;
    let key = data_encoding::BASE32_NOPAD.decode(secret_base32.trim().as_bytes()).expect("a base32 secret");
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

pub(crate) fn step_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30
}

#[test]
fn the_test_computes_totp_codes_as_rfc_6238_says() {
    // RFC 6238 appendix B, SHA-1, T = 59 and T = 1111111109 (last six digits).
    let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
    assert_eq!(totp_code(&secret, 59 / 30), "287082");
    assert_eq!(totp_code(&secret, 1_111_111_109 / 30), "081804");
}

#[test]
fn an_administrator_enrols_totp_and_then_needs_a_code_to_sign_in() {
    let _one = BROWSER_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(b) = Browser::start(1280, 800) else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let url = server.url();

    sign_in(&b, &url, "admin", "admin", ADMIN_PASSWORD);
    b.wait_page("dashboard");
    go(&b, "account", "account");
    b.click_on("#totp-enrol");
    let qr = b.wait_for("img#totp-qr", 30);
    assert!(b.attr(&qr, "src").unwrap().starts_with("data:image/svg+xml"), "a QR code");
    assert!(!b.attr(&qr, "alt").unwrap_or_default().is_empty(), "the QR code has a text alternative");
    let secret = b.text_of("code#totp-secret");
    b.fill("#totp-code", &totp_code(&secret, step_now()));
    b.click_on("#totp-confirm");
    b.wait_for("ul#recovery-codes li", 30);
    let codes: Vec<String> = b.find_all("ul#recovery-codes li").iter().map(|e| b.text(e)).collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    sign_out(&b);

    // The password alone is not enough any more: the page asks for a code.
    sign_in(&b, &url, "admin", "admin", ADMIN_PASSWORD);
    b.wait_for("#signin-totp", 30);
    let wrong = format!("{:06}", (totp_code(&secret, step_now()).parse::<u32>().unwrap() + 1) % 1_000_000);
    b.fill("#signin-totp", &wrong);
    b.click_on("#signin-submit");
    b.wait_until("the wrong code to be refused", 30, || {
        let error = b.text_of("#signin-error");
        (!error.is_empty()).then_some(error)
    });
    assert_eq!(b.script("return document.querySelector('main#main').dataset.page", &[]), json!("signin"));
    // The next step's code (the enrolment used this step's; each code works once).
    b.fill("#signin-totp", &totp_code(&secret, step_now() + 1));
    b.click_on("#signin-submit");
    b.wait_page("dashboard");
    // And the API agrees: a password without a code is told that a code is required.
    let (status, answer) = server.admin("meta/version", &[]);
    assert_eq!((status, answer["Message"].as_str()), (403, Some("ERR_TOTP_REQUIRED")));
    sign_out(&b);

    // A session the server no longer knows (expired, or revoked) sends the page back to the
    // sign-in form, which says why.
    b.fill("#signin-username", "admin");
    b.fill("#signin-password", ADMIN_PASSWORD);
    b.click_on("#signin-submit");
    // This time with a recovery code (the codes of this and the next step are used).
    b.fill("#signin-totp", &codes[0]);
    b.click_on("#signin-submit");
    b.wait_page("dashboard");
    b.script(
        "const s = JSON.parse(sessionStorage.getItem('comet.session')); s.sessionKey = '00'.repeat(32); \
         sessionStorage.setItem('comet.session', JSON.stringify(s)); return null",
        &[],
    );
    b.click_on("nav#nav a[href=\"#/users\"]");
    b.wait_page("signin");
    let note = b.text_of("#signin-note");
    assert!(note.contains("expired"), "the sign-in page says why: {note:?}");
}

#[test]
fn an_administrator_edits_a_profile_the_settings_and_the_buckets() {
    let _one = BROWSER_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(b) = Browser::start(1280, 800) else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let url = server.url();
    server.add_user("erin", "erin's long password");
    // A device as the profile records it (no agent needed to edit the profile around it).
    server
        .edit_profile("erin", |p| p["Devices"] = json!({ "d1": { "FriendlyName": "box", "ClientVersion": "0.0.1" } }));

    sign_in(&b, &url, "admin", "admin", ADMIN_PASSWORD);
    b.wait_page("dashboard");
    b.goto(&format!("{url}/#/users/erin"));
    b.wait_page("user");

    // A protected item with two paths and a regular-expression exclusion; a bad expression is
    // refused in the dialog.
    b.click_on("#tab-items");
    b.click_on("#item-new");
    b.fill("#item-name", "Home");
    b.choose("#item-device", "d1");
    b.fill("#item-includes", "/home/erin\n/etc");
    b.fill("#item-rexcludes", "[unclosed");
    b.click_on("#dlg-item button[type=\"submit\"]");
    b.wait_until("the bad expression to be refused", 30, || {
        b.text_of("#dlg-item .dlg-error").contains("not a regular expression").then_some(())
    });
    b.fill("#item-rexcludes", "\\.cache$");
    b.click_on("#dlg-item button[type=\"submit\"]");
    wait_text(&b, "/etc", 30);

    // A local vault with retention rules.
    b.click_on("#tab-vaults");
    b.click_on("#vault-new");
    b.fill("#vault-name", "Disk");
    b.choose("#vault-type", "1002");
    b.fill("#vault-location", "/mnt/backup");
    b.fill("#vault-keep-newest", "5");
    b.fill("#vault-keep-daily", "7");
    b.click_on("#dlg-vault button[type=\"submit\"]");
    wait_text(&b, "keep the newest 5; one a day for 7 days", 30);

    // Three schedules; the server validates each with the agents' schedule function.
    b.click_on("#tab-schedules");
    for (frequency, fields) in [
        ("Daily", vec![("#rule-times", "01:30, 13:00")]),
        ("Periodic", vec![("#rule-every", "90"), ("#rule-offset", "15")]),
        ("Hourly", vec![("#rule-minute", "20"), ("#rule-name", "Hourly home")]),
    ] {
        b.click_on("#rule-new");
        b.choose("#rule-frequency", frequency);
        for (css, text) in fields {
            b.fill(css, text);
        }
        if frequency == "Daily" {
            b.click_on("#rule-run-if-missed");
        }
        b.click_on("#dlg-rule button[type=\"submit\"]");
        b.wait_until("the dialog to close", 30, || b.find_all("#dlg-rule").is_empty().then_some(()));
    }
    wait_text(&b, "daily at 01:30, 13:00", 30);
    wait_text(&b, "every 90 min (offset 15 min)", 30);
    wait_text(&b, "every hour at :20", 30);

    // An e-mail rule with the default statuses.
    b.click_on("#tab-reports");
    b.click_on("#report-new");
    b.click_on("#dlg-report button[type=\"submit\"]");
    wait_text(&b, "Error, Missed, Abandoned", 30);

    let profile = server.profile("erin");
    let item = id_named(&profile, "Sources", "Home");
    let props = &profile["Sources"][&item]["EngineProps"];
    assert_eq!(
        (&props["INCLUDE0"], &props["INCLUDE1"], &props["REXCLUDE0"]),
        (&json!("/home/erin"), &json!("/etc"), &json!("\\.cache$"))
    );
    let vault = id_named(&profile, "Destinations", "Disk");
    let disk = &profile["Destinations"][&vault];
    assert_eq!((&disk["DestinationType"], &disk["Location"]), (&json!(1002), &json!("/mnt/backup")));
    assert_eq!(disk["DefaultRetention"]["Mode"], json!(802));
    let ranges: Vec<(u64, u64)> = disk["DefaultRetention"]["Ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["Type"].as_u64().unwrap(), r["Jobs"].as_u64().unwrap()))
        .collect();
    assert_eq!(ranges, [(900, 5), (907, 7)]);
    let rules = profile["BackupRules"].as_object().unwrap();
    assert_eq!(rules.len(), 3, "{profile}");
    let mut frequencies: Vec<Value> = rules.values().map(|r| r["Schedules"][0]["Frequency"].clone()).collect();
    frequencies.sort_by_key(|f| f["Type"].as_str().unwrap().to_owned());
    assert_eq!(
        frequencies,
        [
            json!({"Type": "Daily", "Times": [5400, 46800]}),
            json!({"Type": "Hourly", "SecondsPast": 1200}),
            json!({"Type": "Periodic", "EverySecs": 5400, "OffsetSecs": 900}),
        ]
    );
    assert!(rules.values().all(|r| r["Source"] == item.as_str() && r["Destination"] == vault.as_str()));
    assert!(rules.values().any(|r| r["Description"] == "Hourly home"));
    assert!(
        rules.values().any(|r| r["RunIfMissed"] == json!(true) && r["Schedules"][0]["Frequency"]["Type"] == "Daily")
    );
    assert_eq!(
        profile["EmailReports"],
        json!([{"ReportType": 0, "Statuses": [7002, 7004, 7007], "SummaryHour": 0, "Recipients": []}])
    );

    // Suspend: the badge shows and the profile says so.
    b.click_on("#user-suspend");
    b.click_on("#dlg-confirm button[type=\"submit\"]");
    b.wait_for("h1 .badge", 30);
    assert_eq!(server.profile("erin")["IsSuspended"], json!(true));

    // The dashboard lists the outdated agent.
    go(&b, "dashboard", "dashboard");
    wait_text(&b, "0.0.1", 30);

    // Settings: a value out of range is refused with the reason; a good one is stored and the
    // brand name shows in the header.
    go(&b, "settings", "settings");
    b.fill("#setting-stale-days", "999");
    b.click_on("#settings-save");
    b.wait_until("the refusal", 30, || b.text_of("#settings-form .error-text").contains("1 to 365").then_some(()));
    b.fill("#setting-stale-days", "7");
    b.fill("#setting-brand", "Acme Backup");
    b.click_on("#settings-save");
    b.wait_until("the brand name", 30, || (b.text_of("#brand-name") == "Acme Backup").then_some(()));
    let settings = server.admin_ok("meta/settings/get", &[]);
    assert_eq!((&settings["StaleDeviceDays"], &settings["BrandName"]), (&json!(7), &json!("Acme Backup")));
    assert!(b.text_of("#server-log").contains("listening"), "today's server log is shown");

    // Storage: register a bucket for erin (its key shown once), then delete it.
    go(&b, "storage", "storage");
    b.click_on("#bucket-new");
    b.choose("#bucket-owner", "erin");
    b.click_on("#dlg-bucket button[type=\"submit\"]");
    let key = b.wait_for("#bucket-key", 30);
    assert_eq!(b.text(&key).len(), 64, "a 256-bit key in hex");
    b.click_on("#dlg-bucket button[type=\"button\"]");
    b.wait_page("storage");
    b.wait_for("tr[data-bucket]", 30);
    let buckets = server.admin_ok("storage/list-buckets", &[]);
    assert_eq!(buckets.as_object().unwrap().values().map(|v| v["Owner"].clone()).collect::<Vec<_>>(), [json!("erin")]);
    b.click_on("tr[data-bucket] button");
    b.click_on("#dlg-confirm button[type=\"submit\"]");
    b.wait_until("the bucket to go", 30, || b.find_all("tr[data-bucket]").is_empty().then_some(()));
    assert!(server.admin_ok("storage/list-buckets", &[]).as_object().unwrap().is_empty());

    // Delete the user: the dialog wants the name typed.
    b.goto(&format!("{url}/#/users/erin"));
    b.wait_page("user");
    b.click_on("#user-delete");
    b.fill("#delete-confirm-name", "eri");
    b.click_on("#dlg-delete-user button[type=\"submit\"]");
    b.wait_until("the refusal", 30, || b.text_of("#dlg-delete-user .dlg-error").contains("Type erin").then_some(()));
    b.fill("#delete-confirm-name", "erin");
    b.click_on("#dlg-delete-user button[type=\"submit\"]");
    b.wait_page("users");
    assert!(b.find_all("tr[data-user=\"erin\"]").is_empty(), "erin is gone from the list");
    assert!(!server.admin_ok("list-users", &[]).as_array().unwrap().contains(&json!("erin")));

    // The administrator's own password: changed on the account page, the new one signs in.
    go(&b, "account", "account");
    b.fill("#password-old", ADMIN_PASSWORD);
    b.fill("#password-new", "a new admin password");
    b.fill("#password-again", "a new admin password");
    b.click_on("#password-submit");
    b.wait_until("the change", 30, || {
        b.text_of("#password-form [role=\"status\"]").contains("password changed").then_some(())
    });
    sign_out(&b);
    sign_in(&b, &url, "admin", "admin", "a new admin password");
    b.wait_page("dashboard");
    sign_out(&b);
}
