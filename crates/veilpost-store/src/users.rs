//! Staff accounts: passwords (Argon2id), roles and scopes, end dates, disabling and
//! offboarding leavers.

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use sqlx::AssertSqlSafe;
use time::Date;

use crate::{Error, Result, Store};

/// A staff account.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct User {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub disabled: bool,
    /// The last day the account works.
    pub valid_until: Option<String>,
    pub created_at: i64,
    /// Addresses (shared mailboxes) the account may send as, besides its own.
    #[sqlx(json)]
    pub scopes: Vec<String>,
    /// A TOTP app is registered.
    pub has_totp: bool,
    /// A passkey is registered.
    pub has_passkey: bool,
    /// Who took over mail to this address at offboarding.
    pub successor: Option<String>,
    pub offboarded_at: Option<i64>,
}

/// What an account may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    /// Everything: sends, and manages accounts, contacts, policy and the queue.
    Admin,
    /// Sends, and sees its own messages.
    #[default]
    Staff,
    /// Reads the audit log; sends nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Staff, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Auditor => "auditor",
        }
    }

    /// Sends mail (in its own name and its scopes).
    pub fn sends(self) -> bool {
        self != Role::Auditor
    }

    /// Reads the audit log.
    pub fn audits(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }
}

impl std::str::FromStr for Role {
    type Err = UserError;

    fn from_str(s: &str) -> Result<Role, UserError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UserError::BadRole(s.to_string()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `role == "admin"` in templates.
impl PartialEq<&str> for Role {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The columns of [`User`].
pub(crate) const USER_COLUMNS: &str =
    "email, name, role, disabled, valid_until, created_at, scopes,
    totp_secret IS NOT NULL AS has_totp,
    EXISTS (SELECT 1 FROM staff_passkeys p WHERE lower(p.email) = lower(users.email)) AS has_passkey,
    successor, offboarded_at";

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0} is not an e-mail address")]
    BadEmail(String),
    #[error("the password is too short (at least 12 characters)")]
    ShortPassword,
    #[error("an account for {0} exists")]
    Exists(String),
    #[error("{0} is not a role (admin, staff or auditor)")]
    BadRole(String),
    #[error("the set-up link is used, older than an hour, replaced, or an admin exists")]
    LinkClosed,
    #[error(transparent)]
    Store(#[from] Error),
}

/// What a log or the audit log may keep of a user name typed at a failed sign-in: the
/// name when it is an e-mail address, otherwise only that it was not one. People type
/// their password into the user field; it must not end up in a log (and the audit log
/// cannot be changed afterwards).
pub fn typed_login_for_log(typed: &str) -> String {
    let typed = typed.trim();
    if valid_email(typed) {
        typed.to_string()
    } else {
        "(not an e-mail address)".to_string()
    }
}

/// Check a new account's address and password. Shared by every way an account is made.
pub(crate) fn check_new_account(email: &str, password: &str) -> Result<(), UserError> {
    if !valid_email(email) {
        return Err(UserError::BadEmail(email.into()));
    }
    if password.chars().count() < 12 {
        return Err(UserError::ShortPassword);
    }
    Ok(())
}

/// At most this many Argon2 runs at once, whoever asks (web sign-in, SMTP AUTH, new
/// passwords): each takes 19 MiB and a core, and a flood of logins must not take the
/// process's memory with it.
pub const ARGON2_AT_ONCE: usize = 4;

static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ARGON2_AT_ONCE);

/// Runs now and the most that ran at once since start (for tests and the metrics).
static ARGON2_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static ARGON2_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The most Argon2 runs that were ever under way at the same time in this process.
pub fn argon2_peak() -> usize {
    ARGON2_PEAK.load(std::sync::atomic::Ordering::Relaxed)
}

type Argon2Job = Box<dyn FnOnce() + Send>;

/// The Argon2 threads: a fixed few, so the 19 MiB blocks are reused by the same threads
/// (and malloc arenas) instead of spreading over every blocking thread tokio starts and
/// staying there (150 concurrent logins on blocking threads kept 1.1 GiB).
fn argon2_threads() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Argon2Job>> {
    static THREADS: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Argon2Job>>> =
        std::sync::OnceLock::new();
    THREADS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Argon2Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..ARGON2_AT_ONCE {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start an Argon2 thread: {e}");
            }
        }
        std::sync::Mutex::new(tx)
    })
}

/// Run Argon2 work on one of the few Argon2 threads, waiting for a free one.
async fn argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    use std::sync::atomic::Ordering;
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Argon2Job = Box::new(move || {
        let running = ARGON2_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        ARGON2_PEAK.fetch_max(running, Ordering::SeqCst);
        let out = work();
        ARGON2_RUNNING.fetch_sub(1, Ordering::SeqCst);
        let _ = tx.send(out);
    });
    argon2_threads()
        .lock()
        .map_err(|e| Error::Crypto(e.to_string()))?
        .send(job)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    rx.await
        .map_err(|_| Error::Crypto("the Argon2 thread stopped".into()))
}

/// Hash a password (Argon2id) off the async threads.
pub(crate) async fn hash_off_thread(password: &str) -> Result<String, UserError> {
    let pw = password.to_string();
    Ok(argon2(move || hash_password(&pw)).await??)
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The most memory a stored hash may make a check use (KiB); a hash asking for more is
/// refused rather than honoured.
const ARGON2_MAX_KIB: u32 = 256 * 1024;

thread_local! {
    /// Argon2's memory, kept by the thread and reused: 19 MiB allocated and freed at every
    /// login leaves the allocator holding far more than it uses.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Argon2 into `out`, with this thread's reused memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), argon2::Error> {
    ARGON2_MEMORY.with_borrow_mut(|blocks| {
        let need = params.block_count();
        if blocks.len() < need {
            blocks.resize(need, Block::new());
        }
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut blocks[..need],
        )
    })
}

/// Argon2id (the crate's defaults: m=19 MiB, t=2, p=1) as a PHC string. Slow on purpose:
/// call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String> {
    let crypto = |e: &dyn std::fmt::Display| Error::Crypto(e.to_string());
    let params = Params::default();
    let mut salt = [0u8; 16];
    crate::random(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    argon2_into(
        algorithm,
        version,
        params.clone(),
        password.as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| crypto(&e))?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params).map_err(|e| crypto(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| crypto(&e))?),
        hash: Some(Output::new(&out).map_err(|e| crypto(&e))?),
    };
    Ok(phc.to_string())
}

/// Check `password` against a PHC string; false for any mismatch or malformed hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    if params.m_cost() > ARGON2_MAX_KIB {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut out,
    )
    .is_ok()
        && Output::new(&out).is_ok_and(|o| &o == expected)
}

/// Is `email` a plausible address: a local part, a dotted domain, and none of the
/// characters that separate or quote addresses in a header (spaces, `<>,;"()[]\`)?
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.len() <= 253
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

/// A hash of a random password, for failures that take as long as a real check.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 16];
        crate::random(&mut pw);
        hash_password(&crate::hex(&pw)).unwrap_or_default()
    })
}

/// A change to an account from the admin pages.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Role,
    pub valid_until: Option<Date>,
    pub scopes: Vec<String>,
}

/// Why an offboarding could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OffboardError {
    #[error("no account {0}")]
    NoAccount(String),
    #[error("the successor {0} has no active account")]
    BadSuccessor(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// What offboarding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offboarded {
    /// Held messages of the leaver that were cancelled.
    pub cancelled: u64,
    /// Portal conversations (vault entries) now with the successor.
    pub handed_over: u64,
    /// The successor's new status links, one per conversation handed over: (recipient,
    /// link token). The leaver's links no longer work.
    pub links: Vec<(String, String)>,
}

impl User {
    /// May this account send with `address` as its sender? Its own address and its
    /// scopes; an auditor sends nothing.
    pub fn may_send_as(&self, address: &str) -> bool {
        self.role.sends()
            && (address.eq_ignore_ascii_case(&self.email)
                || self.scopes.iter().any(|s| s.eq_ignore_ascii_case(address)))
    }

    /// Can the account log in on `today`?
    pub fn active_on(&self, today: Date) -> bool {
        !self.disabled
            && self
                .valid_until
                .as_deref()
                .and_then(parse_date)
                .is_none_or(|until| today <= until)
    }
}

impl Store {
    /// Add a staff account (from the command line).
    pub async fn add_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
        valid_until: Option<Date>,
    ) -> Result<(), UserError> {
        self.add_user_as("cli", email, password, role, valid_until)
            .await
    }

    /// Add a staff account; `actor` is who did it, for the audit log.
    pub async fn add_user_as(
        &self,
        actor: &str,
        email: &str,
        password: &str,
        role: Role,
        valid_until: Option<Date>,
    ) -> Result<(), UserError> {
        let email = email.trim();
        check_new_account(email, password)?;
        if self.user(email).await?.is_some() {
            return Err(UserError::Exists(email.into()));
        }
        let hash = hash_off_thread(password).await?;
        let until = valid_until.map(|d| d.to_string());
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO users (email, password_hash, role, valid_until, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(email)
        .bind(hash)
        .bind(role)
        .bind(until)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))
        .map_err(Error::from)?;
        self.audit(actor, "user.add", Some(email), Some(role.as_str()))
            .await?;
        Ok(())
    }

    /// One account (read at every login, staff page and SMTP MAIL: one query).
    pub async fn user(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .bind(email.trim())
            .fetch_optional(ex).await)?,
        )
    }

    async fn user_with_hash(&self, email: &str) -> Result<Option<(User, String)>> {
        #[derive(sqlx::FromRow)]
        struct WithHash {
            #[sqlx(flatten)]
            user: User,
            password_hash: String,
        }
        let sql = format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, WithHash>(sqlx::AssertSqlSafe(sql))
            .bind(email.trim())
            .fetch_optional(ex).await)?
            .map(|r| (r.user, r.password_hash)),
        )
    }

    /// All accounts, by address.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .fetch_all(ex).await)?,
        )
    }

    /// Disable an account (from the command line); false when there is none.
    pub async fn disable_user(&self, email: &str) -> Result<bool> {
        self.disable_user_as("cli", email).await
    }

    /// Disable an account; false when there is none. Its web sessions end.
    pub async fn disable_user_as(&self, actor: &str, email: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE users SET disabled = TRUE, disabled_at = $1 WHERE lower(email) = lower($2) AND NOT disabled",
        )
        .bind(self.now())
        .bind(email.trim())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        if done == 1 {
            self.audit(actor, "user.disable", Some(email.trim()), None)
                .await?;
            self.end_staff_sessions(email).await?;
            return Ok(true);
        }
        Ok(self.user(email).await?.is_some())
    }

    /// Check a login: the account if the password is right and the account is active today.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
        today: Date,
    ) -> Result<Option<User>> {
        let Some((user, hash)) = self.user_with_hash(email).await? else {
            // Spend the same time as a real check, so timing does not reveal accounts.
            let pw = password.to_string();
            let _ = argon2(move || verify_password(&pw, dummy_hash())).await?;
            return Ok(None);
        };
        let pw = password.to_string();
        let ok = argon2(move || verify_password(&pw, &hash)).await?;
        Ok((ok && user.active_on(today)).then_some(user))
    }

    /// Change an account's name, role, end date and scopes.
    pub async fn update_user(&self, email: &str, u: &UserUpdate) -> Result<bool, UserError> {
        let scopes: Vec<String> = u
            .scopes
            .iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = scopes.iter().find(|s| !crate::users::valid_email(s)) {
            return Err(UserError::BadEmail(bad.clone()));
        }
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE users SET name = $1, role = $2, valid_until = $3, scopes = $4, expired_at = NULL
              WHERE lower(email) = lower($5)",
        )
        .bind(u.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .bind(u.role)
        .bind(u.valid_until.map(|d| d.to_string()))
        .bind(sqlx::types::Json(&scopes))
        .bind(email.trim())
        .execute(ex).await.map(|r| r.rows_affected()))
        .map_err(Error::from)?;
        // A staff member's name is in the address book the verdicts compare with.
        self.book.forget();
        Ok(done == 1)
    }

    /// Set a new password (Argon2id).
    pub async fn set_password(&self, email: &str, password: &str) -> Result<bool, UserError> {
        if password.chars().count() < 12 {
            return Err(UserError::ShortPassword);
        }
        let hash = hash_off_thread(password).await?;
        let done = crate::db::on!(&self.pool, ex => sqlx::query("UPDATE users SET password_hash = $1 WHERE lower(email) = lower($2)")
            .bind(hash)
            .bind(email.trim())
            .execute(ex).await.map(|r| r.rows_affected()))
            .map_err(Error::from)?;
        Ok(done == 1)
    }

    /// Accounts whose end date passed before `today` (sign-in is refused from then on by
    /// [`User::active_on`]): their sessions end, and each is returned once (for the audit
    /// log).
    pub async fn expire_accounts(&self, today: Date) -> Result<Vec<String>> {
        let candidates: Vec<(String, String)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT email, valid_until FROM users WHERE expired_at IS NULL AND valid_until IS NOT NULL",
        )
        .fetch_all(ex).await)?;
        let mut out = Vec::new();
        for (email, until) in candidates {
            if crate::users::parse_date(&until).is_some_and(|d| d < today) {
                crate::db::on!(&self.pool, ex => sqlx::query(
                    "UPDATE users SET expired_at = $1 WHERE lower(email) = lower($2) AND expired_at IS NULL",
                )
                .bind(self.now())
                .bind(&email)
                .execute(ex).await.map(|r| r.rows_affected()))?;
                self.end_staff_sessions(&email).await?;
                out.push(email);
            }
        }
        Ok(out)
    }

    /// Offboard a leaver in one step: the account is disabled (web sign-in and SMTP AUTH
    /// refused from now on), sessions end, held messages are cancelled, portal
    /// conversations go to `successor`, mail to the address is answered per policy; one
    /// audit entry by `actor` says what was done.
    pub async fn offboard_user(
        &self,
        actor: &str,
        email: &str,
        successor: Option<&str>,
    ) -> Result<crate::Offboarded, OffboardError> {
        let email = email.trim();
        let successor = successor.map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = successor {
            let today = time::OffsetDateTime::now_utc().date();
            if s.eq_ignore_ascii_case(email)
                || self
                    .user(s)
                    .await?
                    .is_none_or(|u| !u.active_on(today) || u.offboarded_at.is_some())
            {
                return Err(OffboardError::BadSuccessor(s.to_string()));
            }
        }
        if self.user(email).await?.is_none() {
            return Err(OffboardError::NoAccount(email.to_string()));
        }
        self.disable_user_as(actor, email).await?;
        let done = self.offboard(email, successor).await?;
        let detail = format!(
            "successor {}; {} held messages cancelled; {} portal conversations handed over",
            successor.unwrap_or("-"),
            done.cancelled,
            done.handed_over
        );
        self.audit(actor, "user.offboard", Some(email), Some(&detail))
            .await?;
        Ok(done)
    }

    /// Record a leaver: from now on mail to `email` is answered per policy, naming the
    /// successor if there is one. Their sessions end.
    pub async fn mark_offboarded(&self, email: &str, successor: Option<&str>) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE users SET successor = $1, offboarded_at = COALESCE(offboarded_at, $2) WHERE lower(email) = lower($3)",
        )
        .bind(successor.map(str::trim))
        .bind(self.now())
        .bind(email.trim())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.end_staff_sessions(email).await?;
        Ok(())
    }

    /// If `address` belongs to someone who left: Some(their successor, if any).
    pub async fn leaver(&self, address: &str) -> Result<Option<Option<String>>> {
        let row: Option<(Option<String>,)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT successor FROM users
              WHERE lower(email) = lower($1) AND offboarded_at IS NOT NULL",
        )
        .bind(address.trim())
        .fetch_optional(ex).await)?;
        Ok(row.map(|(s,)| s))
    }

    /// Accounts with the given role.
    pub async fn users_with_role(&self, role: Role) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE role = $1 ORDER BY email");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, User>(AssertSqlSafe(sql))
            .bind(role)
            .fetch_all(ex).await)?,
        )
    }

    /// The leaver's status links stop working at once (whoever holds them can no longer
    /// watch or revoke); with a successor, each live conversation goes to them with a new
    /// status link of their own. One transaction.
    async fn hand_over_conversations(
        &self,
        email: &str,
        successor: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let mut tx = self.pool.write_tx().await?;
        let live: Vec<(String, String)> = crate::db::on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT id, recipient FROM vault
              WHERE lower(sender) = lower($1) AND shredded_at IS NULL ORDER BY id",
        )
        .bind(email)
        .fetch_all(&mut *c).await)?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE vault SET status_token_hash = NULL WHERE lower(sender) = lower($1)")
            .bind(email)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let mut links = Vec::new();
        if let Some(successor) = successor {
            for (id, recipient) in live {
                let token = crate::vault::new_token();
                crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE vault SET sender = $1, status_token_hash = $2 WHERE id = $3")
                    .bind(successor)
                    .bind(crate::vault::token_hash(&token))
                    .bind(&id)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?;
                links.push((recipient, token));
            }
        }
        tx.commit().await.map_err(Error::Commit)?;
        Ok(links)
    }

    /// Offboard `email`: its web sessions end, its held messages are cancelled, its portal
    /// conversations go to `successor` (replies, read receipts and lock notices reach them
    /// from now on), and mail to the address is answered per policy from now on. The
    /// account itself is disabled by [`Store::disable_user`].
    pub async fn offboard(&self, email: &str, successor: Option<&str>) -> Result<Offboarded> {
        let held: Vec<String> = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT id FROM messages WHERE state = 'held' AND (lower(mail_from) = lower($1)
                 OR lower(auth_user) = lower($1))",
        )
        .bind(email)
        .fetch_all(ex).await)?;
        let mut out = Offboarded::default();
        self.mark_offboarded(email, successor).await?;
        for id in held {
            if self.cancel_held(&id).await? {
                out.cancelled += 1;
            }
        }
        out.links = self.hand_over_conversations(email, successor).await?;
        out.handed_over = out.links.len() as u64;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_password_typed_as_user_name_is_not_logged() {
        for (typed, logged) in [
            ("ann@praktijk.test", "ann@praktijk.test"),
            (" ann@praktijk.test ", "ann@praktijk.test"),
            ("Zomer2026!geheim", "(not an e-mail address)"),
            ("ann", "(not an e-mail address)"),
            ("", "(not an e-mail address)"),
        ] {
            assert_eq!(typed_login_for_log(typed), logged, "{typed:?}");
        }
    }

    use super::*;

    #[test]
    fn emails() {
        assert!(valid_email("a.jansen@praktijk.nl"));
        assert!(!valid_email("a.jansen"));
        assert!(!valid_email("@praktijk.nl"));
        assert!(!valid_email("a b@praktijk.nl"));
        assert!(!valid_email("a@localhost"));
        assert!(!valid_email("a,b@praktijk.nl") && !valid_email("a@praktijk.nl."));
    }

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
        // The same PHC strings as the argon2 crate's own hasher and verifier, both ways
        // (accounts made before the reused-memory hasher keep working).
        use argon2::{PasswordHasher, PasswordVerifier};
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery")
            .expect("hash")
            .to_string();
        assert!(verify_password("correct horse battery", &theirs));
        assert!(!verify_password("correct horse batterY", &theirs));
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", h.as_str())
                .is_ok()
        );
        // Argon2i and Argon2d hashes are read as what they say they are.
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let other = Argon2::new(alg, Version::V0x13, Params::new(64, 1, 1, None).expect("p"))
                .hash_password(b"pw")
                .expect("hash")
                .to_string();
            assert!(verify_password("pw", &other), "{other}");
        }
        // A stored hash asking for more memory than allowed is refused.
        let greedy = theirs.replace("m=19456", "m=4194304");
        assert!(!verify_password("correct horse battery", &greedy));
    }

    #[test]
    fn end_dates() {
        let u = User {
            email: "a@b.nl".into(),
            name: None,
            role: Role::Staff,
            disabled: false,
            valid_until: Some("2026-11-30".into()),
            created_at: 0,
            scopes: vec!["info@b.nl".into()],
            has_totp: false,
            has_passkey: false,
            successor: None,
            offboarded_at: None,
        };
        assert!(u.may_send_as("A@b.nl") && u.may_send_as("info@b.nl"));
        assert!(!u.may_send_as("other@b.nl"));
        assert!(
            !User {
                role: Role::Auditor,
                ..u.clone()
            }
            .may_send_as("a@b.nl")
        );
        let d = |s| parse_date(s).expect("date");
        assert!(u.active_on(d("2026-11-30")));
        assert!(!u.active_on(d("2026-12-01")));
        assert!(
            !User {
                disabled: true,
                ..u.clone()
            }
            .active_on(d("2026-01-01"))
        );
    }
}
