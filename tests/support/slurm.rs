//! A real single-node Slurm cluster for a test: `munged`, `slurmctld` and
//! `slurmd` from Debian's `slurm-wlm` and `munge`, started from a generated
//! `slurm.conf` in a temporary directory (its own munge key and socket, free
//! ports, state and logs there), stopped when dropped. Clients find it
//! through `SLURM_CONF`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct SlurmCluster {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn installed(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .any(|dir| Path::new(dir).join(program).is_file())
}

impl SlurmCluster {
    /// Starts the cluster; `None` after a loud skip when Slurm or munge is
    /// not installed (a failure when `NDCHUNK_REQUIRE_CLUSTERS=1`, which
    /// `.ci/run` sets after installing them).
    pub fn start() -> Option<SlurmCluster> {
        let missing: Vec<&str> = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo"]
            .into_iter()
            .filter(|p| !installed(p))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "Slurm is not installed (missing {missing:?}; apt-get install slurm-wlm munge)"
            );
            assert!(
                std::env::var("NDCHUNK_REQUIRE_CLUSTERS").as_deref() != Ok("1"),
                "{why}"
            );
            crate::support::skip(&why);
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["state", "spool", "log"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        // The cluster's own munge key, readable by its owner alone.
        let key = d.join("munge.key");
        let mut bytes = vec![0u8; 1024];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .unwrap();
        std::fs::write(&key, &bytes).unwrap();
        let mut permissions = std::fs::metadata(&key).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
        std::fs::set_permissions(&key, permissions).unwrap();
        let socket = d.join("munge.sock");
        let mut cluster = SlurmCluster {
            dir,
            daemons: Vec::new(),
        };
        cluster.spawn(
            Command::new("munged")
                .arg("--foreground")
                .arg("--force")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--key-file={}", key.display()))
                .arg(format!(
                    "--pid-file={}",
                    cluster.path("munged.pid").display()
                ))
                .arg(format!(
                    "--log-file={}",
                    cluster.path("log/munged.log").display()
                ))
                .arg(format!(
                    "--seed-file={}",
                    cluster.path("munge.seed").display()
                )),
        );
        cluster.wait_for("munge's socket", || socket.exists());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
            })
            .map_or(4096, |kib| kib / 1024 / 2);
        let p = |name: &str| cluster.path(name).display().to_string();
        let conf = format!(
            "ClusterName=ndchunktest\n\
             SlurmctldHost={host}\n\
             SlurmctldPort={}\n\
             SlurmdPort={}\n\
             AuthType=auth/munge\n\
             AuthInfo=socket={}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={}\n\
             SlurmdSpoolDir={}\n\
             SlurmctldPidFile={}\n\
             SlurmdPidFile={}\n\
             SlurmctldLogFile={}\n\
             SlurmdLogFile={}\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             SchedulerType=sched/builtin\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core_Memory\n\
             ReturnToService=2\n\
             MpiDefault=none\n\
             NodeName={host} CPUs={cpus} RealMemory={memory_mib} State=UNKNOWN\n\
             PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port(),
            socket.display(),
            p("state"),
            p("spool"),
            p("slurmctld.pid"),
            p("slurmd.pid"),
            p("log/slurmctld.log"),
            p("log/slurmd.log"),
        );
        std::fs::write(cluster.conf(), conf).unwrap();
        let conf = cluster.conf();
        cluster.spawn(Command::new("slurmctld").arg("-D").arg("-f").arg(&conf));
        cluster.spawn(Command::new("slurmd").arg("-D").arg("-f").arg(&conf));
        cluster.wait_for("the node to be idle", || {
            Command::new("sinfo")
                .args(["-h", "-o", "%t"])
                .env("SLURM_CONF", &conf)
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        Some(cluster)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The cluster's `slurm.conf`, for `SLURM_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.path("slurm.conf")
    }

    /// The daemons' logs, for a failing test to show.
    pub fn logs(&self) -> String {
        ["log/slurmctld.log", "log/slurmd.log"]
            .iter()
            .map(|l| {
                let text = std::fs::read_to_string(self.path(l)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                format!(
                    "--- {l}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn spawn(&mut self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        let child = command
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        self.daemons.push(child);
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn() -> bool) {
        let started = Instant::now();
        while !ready() {
            for daemon in &mut self.daemons {
                if let Ok(Some(status)) = daemon.try_wait() {
                    panic!(
                        "a Slurm daemon stopped ({status}) before {what}:\n{}",
                        self.logs()
                    );
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited 60 s for {what}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        // Each daemon leads its own process group (slurmctld's script
        // daemon, the jobs' steps): all of it goes.
        for daemon in self.daemons.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", "--", &format!("-{}", daemon.id())])
                .status();
            let _ = daemon.wait();
        }
    }
}
