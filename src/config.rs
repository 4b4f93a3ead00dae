//! Where groupdeck keeps things (config, data, key, logs) and the optional
//! `groupdeck.toml` config file. Flags override the file.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The app id used when none is configured (Tencent's example app id).
pub const DEFAULT_APP_ID: u64 = 1_400_000_000;

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// The user's config and data directories, or `GROUPDECK_CONFIG_DIR` / `GROUPDECK_DATA_DIR`.
    pub fn resolve() -> anyhow::Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "groupdeck");
        let from_env = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let config_dir = from_env("GROUPDECK_CONFIG_DIR")
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().to_path_buf()))
            .context("cannot find a config directory; set GROUPDECK_CONFIG_DIR")?;
        let data_dir = from_env("GROUPDECK_DATA_DIR")
            .or_else(|| dirs.as_ref().map(|d| d.data_dir().to_path_buf()))
            .context("cannot find a data directory; set GROUPDECK_DATA_DIR")?;
        Ok(Paths {
            config_dir,
            data_dir,
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("groupdeck.toml")
    }
    pub fn keymap_file(&self) -> PathBuf {
        self.config_dir.join("keymap.toml")
    }
    pub fn server_db(&self) -> PathBuf {
        self.data_dir.join("groupdeck.db")
    }
    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join("groupdeck.key")
    }
    pub fn demo_db(&self) -> PathBuf {
        self.data_dir.join("demo.db")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// `groupdeck.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub console: ConsoleSection,
}

/// `[console]`: where the console connects and how it looks. Flags and
/// `GROUPDECK_SERVER` / `GROUPDECK_USER` / `GROUPDECK_USERSIG` override it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// `http://host:port` of a `groupdeck serve`; absent = the embedded demo.
    pub server: Option<String>,
    pub user: Option<String>,
    pub usersig: Option<String>,
    /// `dark` (default) or `light`.
    pub theme: Option<String>,
    #[serde(default)]
    pub no_color: bool,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub db: Option<String>,
    pub app_id: Option<u64>,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub app_admins: Vec<String>,
    pub rate_limit: Option<u32>,
    pub rate_burst: Option<u32>,
    pub body_limit: Option<usize>,
    pub event_retention: Option<u64>,
    pub synchronous: Option<String>,
    pub user_group_limit: Option<u64>,
}

impl ConfigFile {
    /// Reads the file if it exists; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Resolves `--db`: `sqlite://PATH`, a plain path, or `postgres://...`.
pub fn sqlite_path(db: &str) -> anyhow::Result<PathBuf> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        bail!("this build has no PostgreSQL store; use sqlite://PATH");
    }
    let path = db.strip_prefix("sqlite://").unwrap_or(db);
    if path.is_empty() {
        bail!("--db needs a path, e.g. sqlite:///var/lib/groupdeck/groupdeck.db");
    }
    Ok(PathBuf::from(path))
}

/// Reads the server key, creating a new random one (mode 0600) when the file is missing.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.is_empty() {
                bail!("the key file {} is empty", path.display());
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let key = crate::usersig::generate_key();
            write_private(path, &key)
                .with_context(|| format!("writing the key file {}", path.display()))?;
            tracing::info!("created a new server key at {}", path.display());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading the key file {}", path.display())),
    }
}

/// Reads an existing key file (for `groupdeck usersig`).
pub fn read_key(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the key file {} (start `groupdeck serve` once to create it, or pass --key-file)",
            path.display()
        )
    })?;
    let key = text.trim().to_string();
    if key.is_empty() {
        bail!("the key file {} is empty", path.display());
    }
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}
