//! The loader's guards: paths confined to the plan directory (a file outside is never
//! opened, its content never printed), strict scalars, ranges, unique generated names,
//! located non-UTF-8 files, one cause reported once, and messages in mtm's own words.
//!
//! Each test breaks the mini plan in one way and asserts exit 1, the location and the
//! message; [`check`] also asserts that no YAML library advice reaches the user.

use crate::support::{Fixture, Run, bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Content of the files outside the plan directory: must never appear in any output.
const CANARY: &str = "canary-content-outside-the-plan";

/// Phrases of the YAML library addressed to programmers, never to be shown to a user.
const LIBRARY_WORDS: [&str; 8] = [
    "DuplicateKeyPolicy",
    "Options",
    "from_str",
    "from_multiple",
    "budget breached",
    "Option<",
    "strict mode",
    "serde",
];

/// Exit 1, `expected` in stderr, and none of the library's own advice.
fn check(run: &Run, expected: &str) {
    run.fails(expected);
    for words in LIBRARY_WORDS {
        assert!(
            !run.stderr.contains(words),
            "library advice {words:?} reached the user:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.stdout.contains(CANARY) && !run.stderr.contains(CANARY),
        "a file outside the plan was printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// How many errors a run reported.
fn errors(run: &Run) -> usize {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .count()
}

/// A directory outside the plan holding a canary manifest, a canary values file and a
/// FIFO (opening a FIFO for reading blocks until a writer comes: a loader that opens it
/// never finishes).
struct Outside {
    dir: tempfile::TempDir,
}

impl Outside {
    fn new() -> Outside {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: {CANARY}, namespace: demo }}\n"
        );
        std::fs::write(dir.path().join("canary.yaml"), manifest).expect("write canary");
        std::fs::write(dir.path().join("values.yaml"), format!("x: {CANARY}\n"))
            .expect("write canary values");
        let fifo = dir.path().join("fifo.yaml");
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
        Outside { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn symlink(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// The mini plan with its namespace manifest entry replaced by `entry`.
fn manifest_entry(entry: &str) -> Fixture {
    Fixture::mini().edit(
        "stages/base.yaml",
        "manifests: [manifests/ns.yaml]",
        &format!("manifests: [\"{entry}\"]"),
    )
}

/// The mini plan with a release whose values file is `entry`.
fn values_entry(entry: &str) -> Fixture {
    Fixture::mini().edit(
        "stages/base.yaml",
        "    manifests:",
        &format!(
            "    releases:\n      - {{ name: r, namespace: demo, chart: ./chart, valuesFiles: [\"{entry}\"] }}\n    manifests:"
        ),
    )
}

/// Runs `mtm --plan . validate`, failing the test if mtm has not finished after a
/// minute (it would be blocked opening a FIFO it must never open).
fn validate_bounded(f: &Fixture) -> Run {
    let mut child = Command::new(bin())
        .args(["--plan", ".", "validate"])
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtm");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mtm validate blocked: it opened the FIFO outside the plan directory");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("mtm output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: "--plan . validate".into(),
    }
}

// ---- paths: manifests ----

#[test]
fn manifest_with_parent_path_is_refused_unread() {
    let outside = Outside::new();
    let name = format!("canary-{}.yaml", std::process::id());
    let f = manifest_entry(&format!("../{name}"));
    let parent = f.path().parent().expect("parent").join(&name);
    std::fs::copy(outside.path("canary.yaml"), &parent).expect("canary next to the plan");
    let run = f.run(&["validate"]);
    let _ = std::fs::remove_file(parent);
    check(
        &run,
        &format!("./stages/base.yaml:8:17: manifest `../{name}` leaves the plan directory"),
    );
}

#[test]
fn manifest_reaching_etc_passwd_is_refused() {
    let run = manifest_entry("../../../../../../etc/passwd").run(&["validate"]);
    check(
        &run,
        "./stages/base.yaml:8:17: manifest `../../../../../../etc/passwd` leaves the plan directory",
    );
    assert!(!run.stderr.contains("root:"), "{}", run.stderr);
}

#[test]
fn manifest_with_parent_inside_its_path_is_refused() {
    check(
        &manifest_entry("manifests/../../x.yaml").run(&["validate"]),
        "manifest `manifests/../../x.yaml` leaves the plan directory",
    );
}

#[test]
fn manifest_going_up_and_back_in_is_refused_too() {
    check(
        &manifest_entry("manifests/../manifests/ns.yaml").run(&["validate"]),
        "./stages/base.yaml:8:17: manifest `manifests/../manifests/ns.yaml` leaves the plan directory",
    );
}

#[test]
fn manifest_with_absolute_path_is_refused_unread() {
    let outside = Outside::new();
    let canary = outside.path("canary.yaml").display().to_string();
    check(
        &manifest_entry(&canary).run(&["validate"]),
        &format!("./stages/base.yaml:8:17: manifest `{canary}` is an absolute path"),
    );
}

#[test]
fn manifest_symlink_outside_is_refused_unread() {
    let outside = Outside::new();
    let f = manifest_entry("manifests/link.yaml");
    symlink(
        &outside.path("canary.yaml"),
        &f.path().join("manifests/link.yaml"),
    );
    check(
        &f.run(&["validate"]),
        "./stages/base.yaml:8:17: manifest `manifests/link.yaml` resolves outside the plan directory",
    );
}

#[test]
fn manifest_under_a_symlinked_directory_outside_is_refused() {
    let outside = Outside::new();
    let f = manifest_entry("ext/canary.yaml");
    symlink(outside.dir.path(), &f.path().join("ext"));
    check(
        &f.run(&["validate"]),
        "manifest `ext/canary.yaml` resolves outside the plan directory",
    );
}

#[test]
fn manifest_symlink_inside_the_plan_is_fine() {
    let f = manifest_entry("manifests/link.yaml");
    symlink(Path::new("ns.yaml"), &f.path().join("manifests/link.yaml"));
    f.run(&["validate"]).ok().stdout_has("plan mini: 2 stages");
}

#[test]
fn fifo_outside_by_parent_path_is_never_opened() {
    let name = format!("fifo-{}.yaml", std::process::id());
    let f = manifest_entry(&format!("../{name}"));
    let fifo = f.path().parent().expect("parent").join(&name);
    let _ = std::fs::remove_file(&fifo);
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let run = validate_bounded(&f);
    let _ = std::fs::remove_file(&fifo);
    check(
        &run,
        &format!("manifest `../{name}` leaves the plan directory"),
    );
}

#[test]
fn fifo_outside_by_absolute_path_is_never_opened() {
    let outside = Outside::new();
    let fifo = outside.path("fifo.yaml").display().to_string();
    let run = validate_bounded(&manifest_entry(&fifo));
    check(&run, &format!("manifest `{fifo}` is an absolute path"));
}

#[test]
fn fifo_outside_by_symlink_is_never_opened() {
    let outside = Outside::new();
    let f = manifest_entry("manifests/pipe.yaml");
    symlink(
        &outside.path("fifo.yaml"),
        &f.path().join("manifests/pipe.yaml"),
    );
    let run = validate_bounded(&f);
    check(
        &run,
        "manifest `manifests/pipe.yaml` resolves outside the plan directory",
    );
}

// ---- paths: values files, stage files, plan file ----

#[test]
fn values_file_with_parent_path_is_refused() {
    check(
        &values_entry("../values.yaml").run(&["validate"]),
        "./stages/base.yaml:9:9: values file `../values.yaml` leaves the plan directory",
    );
}

#[test]
fn values_file_with_absolute_path_is_refused_unread() {
    let outside = Outside::new();
    let values = outside.path("values.yaml").display().to_string();
    check(
        &values_entry(&values).run(&["validate"]),
        &format!("./stages/base.yaml:9:9: values file `{values}` is an absolute path"),
    );
}

#[test]
fn values_file_symlink_outside_is_refused_unread() {
    let outside = Outside::new();
    let f = values_entry("values/v.yaml");
    symlink(
        &outside.path("values.yaml"),
        &f.path().join("values/v.yaml"),
    );
    check(
        &f.run(&["validate"]),
        "./stages/base.yaml:9:9: values file `values/v.yaml` resolves outside the plan directory",
    );
}

#[test]
fn values_fifo_outside_is_never_opened() {
    let outside = Outside::new();
    let f = values_entry("values/pipe.yaml");
    symlink(
        &outside.path("fifo.yaml"),
        &f.path().join("values/pipe.yaml"),
    );
    check(
        &validate_bounded(&f),
        "values file `values/pipe.yaml` resolves outside the plan directory",
    );
}

#[test]
fn stage_file_symlink_outside_is_refused() {
    let outside = Outside::new();
    let f = Fixture::mini();
    std::fs::remove_file(f.path().join("stages/app.yaml")).expect("rm");
    symlink(
        &outside.path("canary.yaml"),
        &f.path().join("stages/app.yaml"),
    );
    check(
        &f.run(&["validate"]),
        "./plan.yaml:10:16: stage `app`: `stages/app.yaml` resolves outside the plan directory",
    );
}

#[test]
fn plan_file_symlink_outside_is_refused() {
    let outside = Outside::new();
    let f = Fixture::mini();
    std::fs::remove_file(f.path().join("plan.yaml")).expect("rm");
    symlink(&outside.path("canary.yaml"), &f.path().join("plan.yaml"));
    check(
        &f.run(&["validate"]),
        "./plan.yaml: the plan `plan.yaml` resolves outside the plan directory",
    );
}

// ---- strict scalars ----

#[test]
fn yes_is_not_a_boolean_for_sensitive() {
    check(
        &Fixture::mini()
            .edit("plan.yaml", "sensitive: true", "sensitive: yes")
            .run(&["validate"]),
        "./plan.yaml:6:23: invalid YAML: `sensitive`: expected true or false, got string \"yes\"",
    );
}

#[test]
fn on_is_not_a_boolean_for_sensitive() {
    check(
        &Fixture::mini()
            .edit("plan.yaml", "sensitive: true", "sensitive: on")
            .run(&["validate"]),
        "./plan.yaml:6:23: invalid YAML: `sensitive`: expected true or false, got string \"on\"",
    );
}

#[test]
fn quoted_true_is_not_a_boolean_for_sensitive() {
    check(
        &Fixture::mini()
            .edit("plan.yaml", "sensitive: true", "sensitive: \"true\"")
            .run(&["validate"]),
        "./plan.yaml:6:23: invalid YAML: `sensitive`: expected true or false, got string \"true\"",
    );
}

#[test]
fn a_quoted_status_is_not_a_number() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "status: 200", "status: \"200\"")
            .run(&["validate"]),
        "./stages/app.yaml:15:27: invalid YAML: `status`: expected a whole number from 0 to 65535, unquoted, got string \"200\"",
    );
}

#[test]
fn a_yaml_1_1_number_is_not_a_number() {
    for (spelled, shown) in [("2_00", "2_00"), ("0200", "0200")] {
        check(
            &Fixture::mini()
                .edit(
                    "stages/app.yaml",
                    "status: 200",
                    &format!("status: {spelled}"),
                )
                .run(&["validate"]),
            &format!(
                "./stages/app.yaml:15:27: invalid YAML: `status`: expected a whole number from 0 to 65535, unquoted, got string \"{shown}\""
            ),
        );
    }
}

#[test]
fn no_is_not_a_boolean_for_an_existing_release() {
    check(
        &Fixture::mini()
            .edit(
                "stages/base.yaml",
                "    manifests:",
                "    releases:\n      - name: r\n        namespace: demo\n        chart: ./chart\n        existing: no\n    manifests:",
            )
            .run(&["validate"]),
        "./stages/base.yaml:12:19: invalid YAML: `existing`: expected true or false, got string \"no\"",
    );
}

#[test]
fn a_fraction_is_not_a_status() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "status: 200", "status: 200.5")
            .run(&["validate"]),
        "./stages/app.yaml:15:27: invalid YAML: `status`",
    );
}

#[test]
fn a_negative_tool_count_is_refused() {
    check(
        &Fixture::mini()
            .edit(
                "stages/app.yaml",
                "status: 200",
                "status: 200, toolCount: -1",
            )
            .run(&["validate"]),
        "./stages/app.yaml:15:43: invalid YAML: `toolCount`",
    );
}

// ---- ranges ----

#[test]
fn status_999_is_not_an_http_status() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "status: 200", "status: 999")
            .run(&["validate"]),
        "./stages/app.yaml:12:9: check `web-ok`: expected status 999 is not an HTTP status (100 to 599)",
    );
}

#[test]
fn status_99_is_not_an_http_status() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "status: 200", "status: 99")
            .run(&["validate"]),
        "expected status 99 is not an HTTP status",
    );
}

#[test]
fn status_599_is_an_http_status() {
    Fixture::mini()
        .edit("stages/app.yaml", "status: 200", "status: 599")
        .run(&["validate"])
        .ok();
}

#[test]
fn zero_wait_timeout_is_refused() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "timeout: 60s", "timeout: 0s")
            .run(&["validate"]),
        "./stages/app.yaml:10:9: wait timeout `0s` is not a positive duration",
    );
}

#[test]
fn wait_timeout_without_unit_is_refused() {
    check(
        &Fixture::mini()
            .edit("stages/app.yaml", "timeout: 60s", "timeout: \"60\"")
            .run(&["validate"]),
        "./stages/app.yaml:10:9: wait timeout `60` is not a positive duration",
    );
}

#[test]
fn release_timeout_with_a_space_is_refused() {
    check(
        &Fixture::mini()
            .edit(
                "stages/base.yaml",
                "    manifests:",
                "    releases:\n      - { name: r, namespace: demo, chart: ./chart, timeout: 5 m }\n    manifests:",
            )
            .run(&["validate"]),
        "./stages/base.yaml:9:9: release timeout `5 m` is not a positive duration",
    );
}

const GEN: &str = "    generate:\n      - { name: jwt, type: jwt-rsa, issuer: http://x, audience: x, subjects: [alice], lifetime: LIFE }\n    manifests:";

#[test]
fn zero_lifetime_is_refused() {
    check(
        &Fixture::mini()
            .edit(
                "stages/base.yaml",
                "    manifests:",
                &GEN.replace("LIFE", "0h"),
            )
            .run(&["validate"]),
        "./stages/base.yaml:9:9: lifetime `0h` is not a positive duration",
    );
}

#[test]
fn lifetime_in_days_is_refused() {
    check(
        &Fixture::mini()
            .edit(
                "stages/base.yaml",
                "    manifests:",
                &GEN.replace("LIFE", "1d"),
            )
            .run(&["validate"]),
        "./stages/base.yaml:9:9: lifetime `1d` is not a positive duration",
    );
}

// ---- generated values ----

#[test]
fn generated_names_are_unique_across_stages() {
    let run = Fixture::mini()
        .edit(
            "stages/base.yaml",
            "    manifests:",
            &GEN.replace("LIFE", "1h"),
        )
        .edit(
            "stages/app.yaml",
            "    manifests:",
            &GEN.replace("LIFE", "2h"),
        )
        .run(&["validate"]);
    check(
        &run,
        "./stages/app.yaml:9:9: generated value `jwt` is already generated by stage `base` (at ./stages/base.yaml:9:9)",
    );
}

#[test]
fn generated_names_are_unique_in_one_stage() {
    let twice = "    generate:\n      - { name: jwt, type: jwt-rsa, issuer: http://x, audience: x, subjects: [a] }\n      - { name: jwt, type: jwt-rsa, issuer: http://y, audience: y, subjects: [b] }\n    manifests:";
    check(
        &Fixture::mini()
            .edit("stages/base.yaml", "    manifests:", twice)
            .run(&["validate"]),
        "./stages/base.yaml:10:9: duplicate address base/-/gen/jwt",
    );
}

// ---- non-UTF-8 ----

#[test]
fn non_utf8_plan_file_is_located() {
    let f = Fixture::mini();
    let mut bytes = std::fs::read(f.path().join("plan.yaml")).expect("read");
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(f.path().join("plan.yaml"), bytes).expect("write");
    check(
        &f.run(&["validate"]),
        "./plan.yaml:11:6: the plan ./plan.yaml is not UTF-8 text: invalid byte at offset",
    );
}

#[test]
fn non_utf8_stage_file_is_located() {
    let f = Fixture::mini();
    std::fs::write(
        f.path().join("stages/base.yaml"),
        b"title: B\xffse\nsteps: []\n",
    )
    .expect("write");
    check(
        &f.run(&["validate"]),
        "./stages/base.yaml:1:9: stage `base`: ./stages/base.yaml is not UTF-8 text: invalid byte at offset 8",
    );
}

#[test]
fn non_utf8_manifest_is_located() {
    let f = Fixture::mini();
    std::fs::write(
        f.path().join("manifests/ns.yaml"),
        b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: d\xc3emo\n",
    )
    .expect("write");
    check(
        &f.run(&["validate"]),
        "./manifests/ns.yaml:4:10: manifest ./manifests/ns.yaml is not UTF-8 text: invalid byte at offset 50",
    );
}

#[test]
fn non_utf8_values_file_is_located() {
    let f = values_entry("values/v.yaml");
    std::fs::create_dir_all(f.path().join("values")).expect("mkdir");
    std::fs::write(f.path().join("values/v.yaml"), b"a: 1\nb: \x80\n").expect("write");
    check(
        &f.run(&["validate"]),
        "./values/v.yaml:2:4: values file ./values/v.yaml is not UTF-8 text: invalid byte at offset 8",
    );
}

// ---- one cause, reported once ----

#[test]
fn a_broken_stage_does_not_cascade_into_needs() {
    let run = Fixture::mini()
        .edit("stages/base.yaml", "title: Base", "title: [Base")
        .edit(
            "stages/app.yaml",
            "    namespace: demo\n",
            "    namespace: demo\n    needs: [\"base/east/core/Namespace/_/demo\"]\n",
        )
        .run(&["validate"]);
    check(&run, "./stages/base.yaml:1:");
    assert!(
        !run.stderr.contains("matches no resource"),
        "{}",
        run.stderr
    );
    assert_eq!(errors(&run), 1, "{}", run.stderr);
}

#[test]
fn a_missing_stage_file_does_not_cascade_into_generated_values() {
    let run = Fixture::mini()
        .edit(
            "stages/app.yaml",
            "Bearer ${TOKEN}",
            "Bearer ${gen.jwt.token.alice}",
        )
        .file(
            "stages/base.yaml",
            "title: Base\nsteps:\n  - name: ns\n    title: N\n    generate: [{ name: jwt ]\n",
        )
        .run(&["validate"]);
    check(&run, "./stages/base.yaml:5:");
    assert!(
        !run.stderr.contains("unknown generated value"),
        "{}",
        run.stderr
    );
    assert_eq!(errors(&run), 1, "{}", run.stderr);
}

#[test]
fn a_broken_manifest_does_not_cascade_into_removals() {
    let run = Fixture::mini()
        .file(
            "manifests/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: { name: demo\n",
        )
        .edit(
            "stages/app.yaml",
            "    waits:\n",
            "    removes:\n      - { apiVersion: v1, kind: Namespace, name: demo }\n    waits:\n",
        )
        .run(&["validate"]);
    check(&run, "./manifests/ns.yaml:");
    assert!(
        !run.stderr.contains("which no earlier stage declares"),
        "{}",
        run.stderr
    );
    assert_eq!(errors(&run), 1, "{}", run.stderr);
}

#[test]
fn a_broken_crd_manifest_does_not_cascade_into_unknown_kinds() {
    let run = Fixture::mini()
        .file(
            "manifests/crd.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: widgets.example.com }\nspec: { group: example.com, scope: Namespaced, names: { kind: Widget, plural: widgets }\n",
        )
        .file(
            "manifests/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w, namespace: demo }\n",
        )
        .edit(
            "stages/base.yaml",
            "manifests: [manifests/ns.yaml]",
            "manifests: [manifests/ns.yaml, manifests/crd.yaml]",
        )
        .edit(
            "stages/app.yaml",
            "manifests: [manifests/app.yaml]",
            "manifests: [manifests/app.yaml, manifests/widget.yaml]",
        )
        .run(&["validate"]);
    check(&run, "./manifests/crd.yaml:");
    assert!(
        !run.stderr.contains("no CustomResourceDefinition"),
        "{}",
        run.stderr
    );
    assert_eq!(errors(&run), 1, "{}", run.stderr);
}

#[test]
fn an_unreadable_stage_is_one_error() {
    let f = Fixture::mini()
        .edit(
            "stages/app.yaml",
            "    namespace: demo\n",
            "    namespace: demo\n    needs: [\"base/**\"]\n",
        )
        .edit("plan.yaml", "stages: [base, app]", "stages: [base, app]\n");
    std::fs::remove_file(f.path().join("stages/base.yaml")).expect("rm");
    let run = f.run(&["validate"]);
    check(
        &run,
        "./plan.yaml:10:10: stage `base`: cannot read ./stages/base.yaml: no such file",
    );
    assert_eq!(errors(&run), 1, "{}", run.stderr);
}

// ---- the library's own messages ----

#[test]
fn duplicate_key_in_plan_file_in_our_words() {
    check(
        &Fixture::mini()
            .edit("plan.yaml", "title: A small", "plan: again\ntitle: A small")
            .run(&["validate"]),
        "./plan.yaml:2:1: invalid YAML: key `plan` appears twice in one mapping",
    );
}

#[test]
fn duplicate_key_in_stage_file_in_our_words() {
    check(
        &Fixture::mini()
            .edit(
                "stages/base.yaml",
                "    cluster: east\n",
                "    cluster: east\n    cluster: west\n",
            )
            .run(&["validate"]),
        "./stages/base.yaml:8:5: invalid YAML: key `cluster` appears twice in one mapping",
    );
}

#[test]
fn two_documents_in_a_stage_file_in_our_words() {
    let f = Fixture::mini();
    let text = std::fs::read_to_string(f.path().join("stages/base.yaml")).expect("read");
    let f = f.file("stages/base.yaml", &format!("{text}---\ntitle: Again\n"));
    check(
        &f.run(&["validate"]),
        "invalid YAML: more than one YAML document (`---`): this file holds exactly one",
    );
}

#[test]
fn an_empty_title_in_our_words() {
    check(
        &Fixture::mini()
            .edit("stages/base.yaml", "title: Base", "title:")
            .run(&["validate"]),
        "./stages/base.yaml:1:",
    );
}

#[test]
fn a_nesting_bomb_in_our_words() {
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let run = Fixture::mini()
        .edit(
            "stages/base.yaml",
            "title: Base",
            &format!("title: Base\nsummary: {deep}"),
        )
        .run(&["validate"]);
    check(&run, "./stages/base.yaml:2:");
    check(&run, "invalid YAML:");
}

#[test]
fn a_nesting_bomb_in_a_manifest_in_our_words() {
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let run = Fixture::mini()
        .file(
            "manifests/ns.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{ name: demo }}\ndata: {deep}\n"),
        )
        .run(&["validate"]);
    check(&run, "./manifests/ns.yaml:4:");
}

#[test]
fn hand_edit_managers_that_would_take_every_field_are_refused() {
    for (entry, problem) in [
        ("\"*\"", "names no manager"),
        ("\"\"", "names no manager"),
        ("\"kube*ctl\"", "may have `*` only at its end"),
    ] {
        let plan = crate::support::MINI_PLAN.replace(
            "stages: [base, app]",
            &format!("handEditManagers: [{entry}]\nstages: [base, app]"),
        );
        crate::support::Fixture::mini()
            .file("plan.yaml", &plan)
            .run(&["validate"])
            .fails("plan.yaml:10:20:")
            .fails(problem);
    }
    let plan = crate::support::MINI_PLAN.replace(
        "stages: [base, app]",
        "handEditManagers: [ops-script, \"deploy-*\"]\nstages: [base, app]",
    );
    crate::support::Fixture::mini()
        .file("plan.yaml", &plan)
        .run(&["validate"])
        .ok();
}

#[test]
fn names_the_api_server_would_refuse_are_found_before_anything_is_applied() {
    for (manifest, said) in [
        (
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: Bad_Name }\n",
            "ServiceAccount name `Bad_Name` may hold only lowercase letters, digits, '-' and '.'",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: { name: web.v2 }\nspec: { ports: [{ port: 80 }] }\n",
            "Service name `web.v2` may hold only lowercase letters, digits and '-'",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: -cfg }\n",
            "must start and end with a lowercase letter or a digit",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cfg, namespace: Demo }\n",
            "ConfigMap cfg: namespace `Demo` may hold only lowercase letters, digits and '-'",
        ),
    ] {
        crate::support::Fixture::mini()
            .file("manifests/app.yaml", manifest)
            .run(&["validate"])
            .fails("manifests/app.yaml:1:1: ")
            .fails(said);
    }
    // Names the module holds no rule for (RBAC's `system:` names) are the server's to judge.
    crate::support::Fixture::mini()
        .file(
            "manifests/app.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: \"system:demo\" }\nrules: []\n",
        )
        .run(&["validate"])
        .ok();
}
