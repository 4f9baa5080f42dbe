//! Remote data end to end, against a local HTTP server and the local hub:
//! `runner fetch` downloads a UCI HAR zip (a selection of its members),
//! M4 files under a base URL and a hub dataset, writes the lock file beside
//! the spec; `runner run` runs a small sweep from the fetched files; with
//! the cache deleted, fetching again gives the same digests; a tampered
//! file, in the cache or on the server, is an error naming the file with
//! both digests; offline, a missing cache says so; an interrupted download
//! resumes with a `Range` request.

use crate::common;
use crate::hub_fake;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

const HAR_SIGNALS: [&str; 9] =
    ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z", "total_acc_x", "total_acc_y", "total_acc_z"];

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A UCI HAR archive in the real layout (`UCI HAR Dataset/...`), with a
/// train split and a `__MACOSX` entry that a member selection leaves out.
fn har_zip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "UCI HAR Dataset/activity_labels.txt".into(),
        b"1 WALKING\n2 WALKING_UPSTAIRS\n3 WALKING_DOWNSTAIRS\n4 SITTING\n5 STANDING\n6 LAYING\n".to_vec(),
    )];
    for split in ["train", "test"] {
        files.push((format!("UCI HAR Dataset/{split}/y_{split}.txt"), b"5\n1\n".to_vec()));
        files.push((format!("UCI HAR Dataset/{split}/subject_{split}.txt"), b"1\n2\n".to_vec()));
        for (k, sig) in HAR_SIGNALS.iter().enumerate() {
            let row = |r: usize| (0..16).map(|t| format!(" {:.7e}", (k + r) as f64 * 0.1 + t as f64 * 0.01)).collect::<String>();
            files.push((
                format!("UCI HAR Dataset/{split}/Inertial Signals/{sig}_{split}.txt"),
                format!("{}\n{}\n", row(0), row(1)).into_bytes(),
            ));
        }
    }
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files.iter().chain([&("__MACOSX/._x".to_owned(), b"junk".to_vec())]) {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    files
}

/// M4 files in the competition's layout (Yearly only: h = 6).
fn m4_files(dir: &Path) {
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let train: Vec<String> = (0..3)
        .map(|i| {
            let vals: Vec<String> = (0..14).map(|t| format!("\"{}\"", 1000 + 37 * t + 11 * i)).collect();
            format!("\"Y{}\",{}", i + 1, vals.join(","))
        })
        .collect();
    let header: Vec<String> = (1..=15).map(|c| format!("\"V{c}\"")).collect();
    write("Train/Yearly-train.csv", &format!("{}\n{}\n", header.join(","), train.join("\n")));
    let test: Vec<String> = (0..3).map(|i| format!("\"Y{}\",\"1520\",\"1557\",\"1594\",\"1631\",\"1668\",\"1705\"", i + 1)).collect();
    write("Test/Yearly-test.csv", &format!("\"V1\",\"V2\",\"V3\",\"V4\",\"V5\",\"V6\",\"V7\"\n{}\n", test.join("\n")));
    write(
        "M4-info.csv",
        "M4id,category,Frequency,Horizon,SP,StartingDate\nY1,Macro,1,6,Yearly,01-01-79 12:00\nY2,Micro,1,6,Yearly,01-01-79 12:00\nY3,Other,1,6,Yearly,01-01-79 12:00\n",
    );
}

struct Fixture {
    _tmp: tempfile::TempDir,
    hub: hub_fake::Hub,
    spec: PathBuf,
    assets: PathBuf,
    served_zip: PathBuf,
    m4_served: PathBuf,
}

fn fixture() -> Fixture {
    let model = runner::assets::resolve("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.is_file(), "{} is missing: run `make setup`", model.display());
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_fake::start();
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let served_zip = served.join("UCI HAR Dataset.zip");
    har_zip(&served_zip);
    let har_url = format!("{}UCI%20HAR%20Dataset.zip", hub.serve_files("uci", served.clone()));
    let m4_served = tmp.path().join("m4");
    m4_files(&m4_served);
    let m4_url = hub.serve_files("m4", m4_served.clone());
    let hub_m4 = tmp.path().join("hub-m4");
    m4_files(&hub_m4);
    hub.publish_dataset("org/m4-yearly", "0123456789abcdef0123456789abcdef01234567", hub_m4, &["main"]);
    let spec = tmp.path().join("exp").join("fetched.yaml");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    std::fs::write(
        &spec,
        format!(
            r#"name: fetched
models:
  smollm2: {{path: "{model}"}}
datasets:
  har:
    task: activity_recognition
    format: uci_har
    url: "{har_url}"
    members: ["UCI HAR Dataset/activity_labels.txt", "UCI HAR Dataset/test/"]
    root: UCI HAR Dataset
    samples: 2
    readings: 8
  m4:
    task: forecasting
    format: m4
    url: "{m4_url}"
    files: [M4-info.csv, Train/Yearly-train.csv, Test/Yearly-test.csv]
    samples: 2
  m4_hub:
    task: forecasting
    format: m4
    hf: org/m4-yearly
    samples: 1
methods:
  greedy: {{max_new_tokens: 48}}
"#,
            model = model.display()
        ),
    )
    .unwrap();
    let assets = tmp.path().join("assets");
    Fixture { _tmp: tmp, hub, spec, assets, served_zip, m4_served }
}

impl Fixture {
    fn runner(&self, args: &[&str], offline: bool) -> Output {
        let mut cmd = common::runner();
        cmd.args(args)
            .arg(&self.spec)
            .env("RUNNER_ASSETS_DIR", &self.assets)
            .env("HF_ENDPOINT", &self.hub.url)
            .env("HF_HUB_CACHE", self.assets.join("hub"))
            // A stalled connection is given up after 1 s (60 s by default).
            .env("RUNNER_HTTP_READ_TIMEOUT", "1")
            .env_remove("HF_TOKEN");
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        } else {
            cmd.env_remove("HF_HUB_OFFLINE");
        }
        cmd.output().unwrap()
    }

    fn lock(&self) -> String {
        std::fs::read_to_string(self.spec.with_extension("lock")).unwrap()
    }

    fn lock_yaml(&self) -> serde_yaml::Value {
        serde_yaml::from_str(&self.lock()).unwrap()
    }

    fn fetched_file(&self, name: &str) -> PathBuf {
        let hits: Vec<PathBuf> = common::files_under(&self.assets.join("fetched")).into_iter().filter(|p| p.ends_with(name)).collect();
        assert_eq!(hits.len(), 1, "{name}: {hits:?}");
        hits[0].clone()
    }
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\n{}{}", out.status.code(), common::stdout(out), common::stderr(out));
    common::stdout(out)
}

#[test]
fn fetch_lock_run_refetch_and_tamper() {
    let f = fixture();
    let printed = ok(&f.runner(&["fetch"], false));
    assert!(printed.contains("written"), "{printed}");

    // The lock pins every fetched file by the digest of the served bytes.
    let lock = f.lock_yaml();
    let data = lock["data"].as_mapping().unwrap();
    assert_eq!(data.len(), 3, "{}", f.lock());
    let har = data.iter().find(|(k, _)| k.as_str().unwrap().contains("UCI%20HAR")).unwrap().1;
    let har_files = har["files"].as_mapping().unwrap();
    let zip_files = har_zip(&f._tmp.path().join("again.zip"));
    let wanted: Vec<&(String, Vec<u8>)> = zip_files.iter().filter(|(n, _)| !n.contains("/train/")).collect();
    assert_eq!(har_files.len(), wanted.len(), "the members selection: labels and the test split");
    for (name, bytes) in wanted {
        assert_eq!(har_files[name.as_str()].as_str(), Some(sha(bytes).as_str()), "{name}");
    }
    let m4 = data.iter().find(|(k, _)| k.as_str().unwrap().contains("/files/m4/")).unwrap().1;
    for rel in ["M4-info.csv", "Train/Yearly-train.csv", "Test/Yearly-test.csv"] {
        assert_eq!(m4["files"][rel].as_str(), Some(sha(&std::fs::read(f.m4_served.join(rel)).unwrap()).as_str()), "{rel}");
    }
    let hubbed = data.iter().find(|(k, _)| k.as_str().unwrap().starts_with("hf:org/m4-yearly")).unwrap().1;
    assert_eq!(hubbed["commit"].as_str(), Some("0123456789abcdef0123456789abcdef01234567"));
    assert_eq!(hubbed["files"].as_mapping().unwrap().len(), 3);
    assert!(
        common::files_under(&f.assets.join("fetched")).iter().all(|p| !p.to_string_lossy().contains("/train/")),
        "unselected members stay packed"
    );

    // A second fetch is served from the cache: no request, the lock unchanged.
    let before = f.hub.request_count();
    let lock_text = f.lock();
    ok(&f.runner(&["fetch"], false));
    assert_eq!(f.hub.request_count(), before, "{:?}", f.hub.state.lock().unwrap().requests);
    assert_eq!(f.lock(), lock_text);

    // A small sweep from the fetched files, offline.
    ok(&f.runner(&["run", "--quiet"], true));
    let runs = common::files_under(&f.spec.parent().unwrap().join("results"))
        .into_iter()
        .filter(|p| p.ends_with("samples.jsonl"))
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let mut ids: Vec<String> = Vec::new();
    for r in &runs {
        for line in std::fs::read_to_string(r).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(v["sample_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(ids.iter().filter(|i| i.starts_with('Y')).count() == 3, "{ids:?}");

    // Cache deleted: fetched again, the same digests.
    std::fs::remove_dir_all(&f.assets).unwrap();
    f.hub.cut_next("/files/uci/UCI%20HAR%20Dataset.zip");
    let stalled = "/datasets/org/m4-yearly/resolve/0123456789abcdef0123456789abcdef01234567/Train/Yearly-train.csv";
    f.hub.stall_next(stalled);
    let start = std::time::Instant::now();
    ok(&f.runner(&["fetch"], false));
    assert!(start.elapsed() < std::time::Duration::from_secs(50), "a stalled hub download is given up and resumed, not waited out");
    assert_eq!(f.lock(), lock_text);
    let uci = f.hub.requests_with("/files/uci/");
    assert!(uci.iter().any(|r| r.contains("[bytes=")), "the cut download resumed with a Range request: {uci:?}");
    // The first fetch's request, the stalled one, then the rest asked for.
    let hubbed = f.hub.requests_with(stalled);
    assert!(
        hubbed.len() == 3 && !hubbed[1].contains("[bytes=") && hubbed[2].contains("[bytes="),
        "the stalled hub download resumed with a Range request: {hubbed:?}"
    );

    // A tampered cache file: named, with both digests; nothing runs.
    let labels = f.fetched_file("activity_labels.txt");
    let good = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, b"1 WALKING\n2 LAYING\n").unwrap();
    let out = f.runner(&["run", "--quiet"], true);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains(&labels.display().to_string()), "{err}");
    assert!(err.contains(&sha(&good)) && err.contains(&sha(b"1 WALKING\n2 LAYING\n")), "{err}");
    std::fs::write(&labels, &good).unwrap();
    ok(&f.runner(&["fetch"], true));

    // Offline with an empty cache: the source is named, and so is the remedy.
    std::fs::remove_dir_all(f.assets.join("fetched")).unwrap();
    let out = f.runner(&["fetch"], true);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("UCI%20HAR%20Dataset.zip") && err.contains("runner fetch"), "{err}");

    // The server now serves other bytes: the download is refused against the
    // lock, and nothing of it stays in the cache.
    std::fs::write(f.m4_served.join("Test/Yearly-test.csv"), "\"V1\",\"V2\"\n\"Y1\",\"1\"\n").unwrap();
    let out = f.runner(&["fetch"], false);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(err.contains("Yearly-test.csv") && err.contains(&sha(b"\"V1\",\"V2\"\n\"Y1\",\"1\"\n")), "{err}");
    assert!(err.contains(m4["files"]["Test/Yearly-test.csv"].as_str().unwrap()), "{err}");
    assert!(
        !common::files_under(&f.assets.join("fetched")).iter().any(|p| p.ends_with("Test/Yearly-test.csv")),
        "refused bytes are not kept"
    );
    assert_eq!(f.lock(), lock_text, "a refused fetch leaves the lock alone");
    let _ = f.served_zip;
}

#[test]
fn remote_source_keys_are_checked_when_planning() {
    let bad = [
        ("url: ftp://h/x.zip", "datasets.d.url"),
        ("url: \"https://h/base/\"\n    files: [\"../x.csv\"]", "datasets.d.files"),
        ("url: https://h/x.zip\n    revision: main", "datasets.d.revision"),
        ("hf: not-a-repo", "datasets.d.hf"),
        ("url: https://h/x.zip\n    path: x", "exactly one of"),
        ("url: https://h/base/", "datasets.d.files"),
    ];
    for (keys, wanted) in bad {
        let text = format!(
            "name: t\nmodels:\n  m: {{asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}}\ndatasets:\n  d:\n    task: forecasting\n    format: m4\n    samples: 1\n    {keys}\nmethods:\n  greedy: {{}}\n"
        );
        let err = common::plan_error(&text, &[]);
        assert!(err.contains(wanted), "{keys}: {err}");
    }
}
