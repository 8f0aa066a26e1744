//! What the container image and the README's recipe rely on, checked without an engine
//! (`scripts/container-check.sh` runs the real image): the image's environment with the
//! recipe's configuration passes `check-config`, exactly as written.

use std::collections::HashMap;
use std::process::Command;

fn repo(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The `ENV` pairs of the Dockerfile's runtime stage.
fn image_env() -> HashMap<String, String> {
    let dockerfile = repo("Dockerfile").replace("\\\n", " ");
    let mut env = HashMap::new();
    for line in dockerfile.lines().filter(|l| l.starts_with("ENV ")) {
        for pair in line[4..].split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap();
            env.insert(k.to_string(), v.to_string());
        }
    }
    env
}

/// The README's container recipe: the lines between its markers.
fn recipe() -> String {
    let readme = repo("README.md");
    let start = readme
        .find("<!-- container-recipe -->")
        .expect("recipe start marker");
    let end = readme
        .find("<!-- /container-recipe -->")
        .expect("recipe end marker");
    readme[start..end].to_string()
}

#[test]
fn the_image_environment_and_the_readme_recipe_pass_check_config() {
    let env = image_env();
    assert_eq!(env["RELAY__SERVER__HOST"], "0.0.0.0");
    assert_eq!(env["RELAY__DATABASE__URL"], "sqlite:///data/relay.db");
    let recipe = recipe();
    assert!(
        recipe.contains("cp config/example.toml relay.toml"),
        "{recipe}"
    );
    // The recipe mounts relay.toml in /etc/hrflow-relay/, where the image ships example.rhai.
    let etc = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{}/config/example.toml", env!("CARGO_MANIFEST_DIR")),
        etc.path().join("relay.toml"),
    )
    .unwrap();
    std::fs::copy(
        format!("{}/config/example.rhai", env!("CARGO_MANIFEST_DIR")),
        etc.path().join("example.rhai"),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrflow-relay"));
    command.arg("check-config").env_clear().envs(&env);
    let mut given = 0;
    for word in recipe.split_whitespace() {
        if let Some((k, v)) = word.split_once('=')
            && k.starts_with("RELAY")
        {
            let v = if k == "RELAY_CONFIG" {
                assert_eq!(v, "/etc/hrflow-relay/relay.toml");
                etc.path().join("relay.toml").display().to_string()
            } else {
                v.to_string()
            };
            command.env(k, v);
            given += 1;
        }
    }
    assert!(given >= 6, "the recipe sets its keys with -e: {recipe}");
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(stdout.contains("listen: 0.0.0.0:8080"), "{stdout}");
}

#[test]
fn the_image_runs_as_a_fixed_non_root_user_and_group() {
    let dockerfile = repo("Dockerfile");
    assert!(dockerfile.contains("groupadd --system --gid 10001 relay"));
    assert!(dockerfile.contains("--uid 10001 --gid 10001"));
    assert!(dockerfile.contains("USER 10001:10001"));
    assert!(
        !dockerfile.lines().any(|l| l.starts_with("VOLUME")),
        "no anonymous volumes for replicas"
    );
    let ignore = repo(".dockerignore");
    for entry in ["**/target", ".env", ".git"] {
        assert!(
            ignore.lines().any(|l| l == entry),
            "{entry} not in .dockerignore"
        );
    }
}
