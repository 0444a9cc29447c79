//! Connection strings as users paste them (libpq URL and keyword form, JDBC for PostgreSQL,
//! MySQL, SQL Server, Oracle and Derby, ADO.NET, ODBC, MongoDB, Redis, MySQL, AMQP), with
//! passwords holding `@ : / ? # ; =`, spaces, quotes and percent escapes, written unescaped as
//! users write them.
//!
//! The property asserted for every case, by [`assert_no_password_leak`]: no fact derived from
//! the string (host, database, username, the masked display string, which is the location plus
//! the mask) and no error holds the password or any piece of it of 3 characters or more. Strings
//! that read one way only must give exactly the expected facts; ambiguous ones must give none.

// Clippy's allow-*-in-tests settings cover `#[test]` functions only, not the helpers
// around them; in test code a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use secret_core::value::{
    AnySecretValue, ConnectionStringSecret, MASK, ParsedConnection, parse_connection_facts,
};

/// What a string must read as.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly these facts: host, port, database, username.
    Facts(
        Option<&'static str>,
        Option<u16>,
        Option<&'static str>,
        Option<&'static str>,
    ),
    /// Accepted, but with no facts at all (the string reads more than one way).
    NoFacts,
    /// Refused as no connection string.
    Refused,
}

use Expect::{Facts, NoFacts, Refused};

/// The pieces of `password` that must appear nowhere: every 3-character window (any longer
/// piece holds one), or the whole password when it is shorter.
fn pieces(password: &str) -> Vec<String> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < 3 {
        return vec![password.to_owned()];
    }
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// Panics if `text` (what `what` names) holds one of `pieces`.
#[track_caller]
fn assert_clean(what: &str, text: &str, pieces: &[String], conn_str: &str) {
    for piece in pieces {
        assert!(
            !text.contains(piece.as_str()),
            "{what} {text:?} holds {piece:?} of the password of {conn_str:?}"
        );
    }
}

/// Asserts that nothing derived from `conn_str` leaks `password`: the facts of
/// [`parse_connection_facts`], the facts, masked string, wire `parsed` and `Debug` output of
/// validation, or its error. Returns the facts validation stored.
#[track_caller]
fn assert_no_password_leak(conn_str: &str, password: &str) -> Option<ParsedConnection> {
    assert!(!password.is_empty());
    assert_no_piece_leaks(conn_str, &pieces(password))
}

/// [`assert_no_password_leak`] for given pieces of a password.
#[track_caller]
fn assert_no_piece_leaks(conn_str: &str, forbidden: &[String]) -> Option<ParsedConnection> {
    let check_facts = |what: &str, p: &ParsedConnection| {
        for (field, value) in [
            ("host", &p.host),
            ("database", &p.database),
            ("username", &p.username),
        ] {
            if let Some(value) = value {
                assert_clean(&format!("{what} {field}"), value, forbidden, conn_str);
            }
        }
    };
    let direct = parse_connection_facts(conn_str);
    if let Some(p) = &direct {
        check_facts("parse_connection_facts", p);
    }
    let value = AnySecretValue::ConnectionString(ConnectionStringSecret {
        connection_string: conn_str.to_owned(),
        parsed: None,
    });
    match value.validate() {
        Ok((value, facts)) => {
            let stored = facts.connection.clone();
            assert_eq!(
                direct.clone().filter(|p| !p.is_empty()),
                stored,
                "validation and parse_connection_facts disagree on {conn_str:?}"
            );
            if let Some(p) = &stored {
                check_facts("stored", p);
            }
            assert_clean("masked", &facts.masked, forbidden, conn_str);
            assert!(facts.masked.ends_with(MASK), "{}", facts.masked);
            assert_eq!(value.masked(), facts.masked);
            if stored.as_ref().and_then(|p| p.host.as_ref()).is_none() {
                assert_eq!(facts.masked, MASK, "no host, yet a location: {conn_str:?}");
            }
            let AnySecretValue::ConnectionString(secret) = &value else {
                panic!("validation changed the type");
            };
            assert_eq!(secret.parsed, stored);
            let wire_parsed = serde_json::to_string(&secret.parsed).unwrap();
            assert_clean("wire parsed", &wire_parsed, forbidden, conn_str);
            assert_clean(
                "Debug",
                &format!("{value:?} {facts:?}"),
                forbidden,
                conn_str,
            );
            stored
        }
        Err(e) => {
            assert!(direct.is_none(), "refused, yet parsed: {conn_str:?}");
            assert_clean("error", &format!("{e} {e:?}"), forbidden, conn_str);
            None
        }
    }
}

/// Asserts the leak property and the expected reading of `conn_str`.
#[track_caller]
fn check(conn_str: &str, password: &str, expect: Expect) {
    let stored = assert_no_password_leak(conn_str, password);
    let direct = parse_connection_facts(conn_str);
    match expect {
        Facts(host, port, database, username) => {
            let expected = ParsedConnection {
                host: host.map(str::to_owned),
                port,
                database: database.map(str::to_owned),
                username: username.map(str::to_owned),
            };
            assert_eq!(direct, Some(expected.clone()), "facts of {conn_str:?}");
            assert_eq!(stored, Some(expected).filter(|p| !p.is_empty()));
        }
        NoFacts => assert_eq!(
            direct,
            Some(ParsedConnection::default()),
            "{conn_str:?} should read for no facts"
        ),
        Refused => assert_eq!(direct, None, "{conn_str:?} should be refused"),
    }
}

/// The masked display string of a valid `conn_str`.
fn masked(conn_str: &str) -> String {
    AnySecretValue::ConnectionString(ConnectionStringSecret {
        connection_string: conn_str.to_owned(),
        parsed: None,
    })
    .validate()
    .unwrap()
    .1
    .masked
}

// ---------------------------------------------------------------- the cases of the finding

#[test]
fn mysql_password_with_at_and_question_mark_does_not_become_the_host() {
    let s = "mysql://root:Pa@ssw0rd?x@10.0.0.5:3306/app";
    check(
        s,
        "Pa@ssw0rd?x",
        Facts(Some("10.0.0.5"), Some(3306), Some("app"), Some("root")),
    );
    assert_eq!(masked(s), format!("mysql://10.0.0.5:3306/app {MASK}"));
}

#[test]
fn libpq_keyword_form_is_read_as_such() {
    let s = "host=pg.example.com port=5432 dbname=inventory user=inv \
             password=Hq7#Lz@k9/Wd sslmode=verify-full";
    check(
        s,
        "Hq7#Lz@k9/Wd",
        Facts(
            Some("pg.example.com"),
            Some(5432),
            Some("inventory"),
            Some("inv"),
        ),
    );
    assert_eq!(masked(s), format!("pg.example.com:5432/inventory {MASK}"));
}

// ---------------------------------------------------------------- hand-written table

/// `(connection string, password, expected reading)`.
const CASES: &[(&str, &str, Expect)] = &[
    // libpq URLs.
    (
        "postgresql://app_user:Zx9@q/7#w@db.example.com:5432/inventory?sslmode=verify-full",
        "Zx9@q/7#w",
        Facts(
            Some("db.example.com"),
            Some(5432),
            Some("inventory"),
            Some("app_user"),
        ),
    ),
    (
        "postgres://u1:Qm:3;x=y?z@pg.internal/app",
        "Qm:3;x=y?z",
        Facts(Some("pg.internal"), None, Some("app"), Some("u1")),
    ),
    (
        "postgresql://reporter:T0p?S/cr#t@host1.example.com:5432,host2.example.com:5433/sales\
         ?target_session_attrs=read-write",
        "T0p?S/cr#t",
        Facts(
            Some("host1.example.com"),
            Some(5432),
            Some("sales"),
            Some("reporter"),
        ),
    ),
    (
        "postgresql://[2001:db8::7]:5432/app?sslmode=require",
        "no-password-here",
        Facts(Some("2001:db8::7"), Some(5432), Some("app"), None),
    ),
    (
        "postgresql:///mydb?host=/var/run/postgresql",
        "no-password-here",
        Facts(None, None, Some("mydb"), None),
    ),
    // A numeric password start with `?a=b` in it: `u1` could be the host and 5432 its port.
    (
        "postgres://u1:5432?sslmode=Rq9@db.example.com/app",
        "5432?sslmode=Rq9",
        NoFacts,
    ),
    // An `@` in the query, as in an e-mail address, is not the end of a user info...
    (
        "jdbc:postgresql://db.example.com:5432/app?user=alice@example.org&password=Wq7!Lp",
        "Wq7!Lp",
        Facts(Some("db.example.com"), Some(5432), Some("app"), None),
    ),
    // ...but when it could be, nothing is reported.
    (
        "jdbc:postgresql://db.example.com:5432/app?user=alice&password=Wq@7Lp",
        "Wq@7Lp",
        NoFacts,
    ),
    (
        "postgres://u:pw@db.example.com/app?application_name=me@laptop&sslmode=require",
        "pw",
        Facts(Some("db.example.com"), None, Some("app"), Some("u")),
    ),
    // Derby / H2 style properties in the path: the path is no database name.
    (
        "jdbc:derby://db.example.com:1527/appdb;user=alice;password=Qz9vK",
        "Qz9vK",
        Facts(Some("db.example.com"), Some(1527), None, None),
    ),
    (
        "jdbc:derby://db.example.com:1527/appdb;user=alice;password=Qz@9vK",
        "Qz@9vK",
        NoFacts,
    ),
    // MySQL.
    (
        "jdbc:mysql://root:Pa@ssw0rd?x@10.0.0.5:3306/app?useSSL=true",
        "Pa@ssw0rd?x",
        Facts(Some("10.0.0.5"), Some(3306), Some("app"), Some("root")),
    ),
    (
        "mysql://app:\"q'uo te\"@db.example.com/app",
        "\"q'uo te\"",
        Facts(Some("db.example.com"), None, Some("app"), Some("app")),
    ),
    (
        "jdbc:mysql://(host=db.example.com,port=3306,user=u,password=Kd@8/q)/app",
        "Kd@8/q",
        NoFacts,
    ),
    // MongoDB.
    (
        "mongodb+srv://user:pa@ss@cluster0.abc.mongodb.net/db?retryWrites=true",
        "pa@ss",
        Facts(
            Some("cluster0.abc.mongodb.net"),
            None,
            Some("db"),
            Some("user"),
        ),
    ),
    (
        "mongodb://admin:Mq%40z%2F9@mongo1.example.com:27017,mongo2.example.com:27017/admin\
         ?replicaSet=rs0&authSource=admin",
        "Mq%40z%2F9",
        Facts(
            Some("mongo1.example.com"),
            Some(27017),
            Some("admin"),
            Some("admin"),
        ),
    ),
    (
        "mongodb://admin:Mq%40z%2F9@mongo1.example.com:27017/admin",
        "Mq@z/9",
        Facts(
            Some("mongo1.example.com"),
            Some(27017),
            Some("admin"),
            Some("admin"),
        ),
    ),
    // Redis.
    (
        "redis://:password@host:6379/0",
        "password",
        Facts(Some("host"), Some(6379), Some("0"), None),
    ),
    (
        "rediss://default:pw@host:6380",
        "pw",
        Facts(Some("host"), Some(6380), None, Some("default")),
    ),
    // AMQP, with a percent-encoded user name.
    (
        "amqp://u%40x:zq-pw@mq.example.com/vhost",
        "zq-pw",
        Facts(Some("mq.example.com"), None, Some("vhost"), Some("u@x")),
    ),
    // libpq keyword form.
    (
        "host=pg.example.com port=5432 dbname=inventory user=inv \
         password='s3 cr\\'et;@=#/' sslmode=verify-full",
        "s3 cr'et;@=#/",
        Facts(
            Some("pg.example.com"),
            Some(5432),
            Some("inventory"),
            Some("inv"),
        ),
    ),
    (
        "host = pg.example.com  port= 5432 dbname =inventory user=inv password=Xy@z:9/q?w#e",
        "Xy@z:9/q?w#e",
        Facts(
            Some("pg.example.com"),
            Some(5432),
            Some("inventory"),
            Some("inv"),
        ),
    ),
    (
        "password='a\\\\b\\'c d' host=db1.example.com,db2.example.com port=5432,5433",
        "a\\b'c d",
        Facts(Some("db1.example.com"), Some(5432), None, None),
    ),
    (
        "hostaddr=10.1.2.3 user=inv password=Tz9;Lq",
        "Tz9;Lq",
        Facts(Some("10.1.2.3"), None, None, Some("inv")),
    ),
    // An unquoted password with a space: libpq would refuse it; read for no facts.
    (
        "host=pg.example.com user=inv password=Lk 9 Jq",
        "Lk 9 Jq",
        NoFacts,
    ),
    // ...and one that then reads as a second `host`.
    (
        "host=pg.example.com password=Ab host=Kq9z",
        "Ab host=Kq9z",
        NoFacts,
    ),
    // A dbname that is itself a connection string (libpq expands it).
    (
        "dbname=postgresql://u:Vb7q@pg.example.com/app",
        "Vb7q",
        NoFacts,
    ),
    // ADO.NET, ODBC, Npgsql.
    (
        "Server=tcp:x.database.windows.net,1433;Initial Catalog=db;User ID=u;\
         Password=\"p;a=ss\"\"word\";",
        "p;a=ss\"word",
        Facts(
            Some("x.database.windows.net"),
            Some(1433),
            Some("db"),
            Some("u"),
        ),
    ),
    (
        "Driver={ODBC Driver 18 for SQL Server};Server=sql.example.com,1433;Database=hr;\
         Uid=hr_app;Pwd={Jq;7}}x=@};Encrypt=yes",
        "Jq;7}x=@",
        Facts(
            Some("sql.example.com"),
            Some(1433),
            Some("hr"),
            Some("hr_app"),
        ),
    ),
    (
        "Host=pg.local;Port=6432;Username=svc;Password='Rt;''q=@ #/';Database=orders",
        "Rt;'q=@ #/",
        Facts(Some("pg.local"), Some(6432), Some("orders"), Some("svc")),
    ),
    (
        "Data Source=(localdb)\\MSSQLLocalDB;Initial Catalog=hr;Integrated Security=true",
        "no-password-here",
        Facts(Some("(localdb)\\MSSQLLocalDB"), None, Some("hr"), None),
    ),
    // A forgotten `;` before the password.
    (
        "Server=sql.example.com;User ID=u Password=Hx7q9;Database=hr",
        "Hx7q9",
        NoFacts,
    ),
    // A repeated user key: which one is meant is unknowable.
    (
        "Server=sql.example.com;User ID=u;Password=Gw8;User ID=Gw8-tail",
        "Gw8-tail",
        NoFacts,
    ),
    (
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=Fp9q=",
        "Fp9q=",
        Facts(Some("ns.servicebus.windows.net"), None, None, None),
    ),
    // JDBC for SQL Server.
    (
        "jdbc:sqlserver://sql.example.com:1433;databaseName=hr;user=hr_app;password={Zp;q=@/7}",
        "Zp;q=@/7",
        Facts(
            Some("sql.example.com"),
            Some(1433),
            Some("hr"),
            Some("hr_app"),
        ),
    ),
    (
        "jdbc:sqlserver://sql.example.com\\SQLEXPRESS:1433;databaseName=hr;user=hr_app;\
         password=Np7#qz",
        "Np7#qz",
        Facts(
            Some("sql.example.com\\SQLEXPRESS"),
            Some(1433),
            Some("hr"),
            Some("hr_app"),
        ),
    ),
    (
        "jdbc:sqlserver://;serverName=sql.example.com;portNumber=1433;databaseName=hr;\
         password=Mk3=q",
        "Mk3=q",
        Facts(Some("sql.example.com"), Some(1433), Some("hr"), None),
    ),
    // A user info in a SQL Server URL is no part of that form.
    (
        "jdbc:sqlserver://sa:Yt6q@sql.example.com:1433;databaseName=hr",
        "Yt6q",
        NoFacts,
    ),
    // JDBC for Oracle.
    (
        "jdbc:oracle:thin:@//db.example.com:1521/ORCLPDB1",
        "no-password-here",
        Facts(Some("db.example.com"), Some(1521), Some("ORCLPDB1"), None),
    ),
    (
        "jdbc:oracle:thin:scott/Ti@g/er@db.example.com:1521:ORCL",
        "Ti@g/er",
        Facts(
            Some("db.example.com"),
            Some(1521),
            Some("ORCL"),
            Some("scott"),
        ),
    ),
    (
        "jdbc:oracle:thin:@tcps://db.example.com:2484/svc.example.com?wallet_location=/opt/w",
        "no-password-here",
        Facts(
            Some("db.example.com"),
            Some(2484),
            Some("svc.example.com"),
            None,
        ),
    ),
    (
        "jdbc:oracle:thin:scott/Wv9q@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db.example.com)\
         (PORT=1521))(CONNECT_DATA=(SERVICE_NAME=orcl)))",
        "Wv9q",
        NoFacts,
    ),
    (
        "jdbc:oracle:thin:scott/Rb(7@x@db.example.com:1521:ORCL",
        "Rb(7@x",
        NoFacts,
    ),
    // Refused: no connection string in any reading.
    ("", "zq-none", Refused),
    ("hello", "zq-none", Refused),
    ("postgres://", "zq-none", Refused),
    ("postgres://bad host/d", "zq-none", Refused),
    ("postgres://u:zq-pw@h:notaport/d", "zq-pw", Refused),
    ("mysql://root:zq-p@ss@h:99999/app", "zq-p@ss", Refused),
    ("Server=h;Password=\"zq-Xv9q", "zq-Xv9q", Refused),
    ("jdbc:oracle:thin:scott/zq-tiger", "zq-tiger", Refused),
    ("host=h port=Kq7x", "Kq7x", Refused),
];

#[test]
fn hand_written_cases_read_as_expected_and_never_leak() {
    for &(conn_str, password, expect) in CASES {
        check(conn_str, password, expect);
    }
}

#[test]
fn masked_display_strings_show_the_location_only() {
    for (conn_str, expected) in [
        (
            "mongodb+srv://user:pa@ss@cluster0.abc.mongodb.net/db?retryWrites=true",
            "mongodb+srv://cluster0.abc.mongodb.net/db",
        ),
        ("redis://:password@host:6379/0", "redis://host:6379/0"),
        (
            "postgresql://[2001:db8::7]:5432/app",
            "postgresql://[2001:db8::7]:5432/app",
        ),
        (
            "Server=tcp:x.database.windows.net,1433;Initial Catalog=db;User ID=u;\
             Password=\"p;a=ss\"\"word\";",
            "x.database.windows.net:1433/db",
        ),
        (
            "jdbc:oracle:thin:scott/Ti@g/er@db.example.com:1521:ORCL",
            "jdbc:oracle:thin:@//db.example.com:1521/ORCL",
        ),
        (
            "jdbc:sqlserver://sql.example.com:1433;databaseName=hr;password={Zp;q=@/7}",
            "jdbc:sqlserver://sql.example.com:1433/hr",
        ),
    ] {
        assert_eq!(masked(conn_str), format!("{expected} {MASK}"), "{conn_str}");
    }
    assert_eq!(
        masked("postgres://u1:5432?sslmode=Rq9@db.example.com/app"),
        MASK
    );
}

// ---------------------------------------------------------------- generated matrix

/// Passwords built around each character that separates parts of a connection string, one
/// with all of them, and percent-encoded ones.
fn passwords() -> Vec<String> {
    let mut out: Vec<String> = ['@', ':', '/', '?', '#', ';', '=', ' ', '"', '\'', '%', '&']
        .iter()
        .map(|c| format!("zQ{c}xK{c}mW9"))
        .collect();
    out.push("zQ@:/?#;= \"'xK".to_owned());
    out.push("zQ@@xK//Wm9??".to_owned());
    out.push("zQ%40xK%2FmW9%3F".to_owned());
    out
}

/// Escapes a password for a single-quoted libpq value.
fn libpq_quoted(password: &str) -> String {
    password.replace('\\', "\\\\").replace('\'', "\\'")
}

/// `(template, host, port, database, username)`: `{pw}` is replaced by the raw password.
type RawTemplate = (
    &'static str,
    &'static str,
    Option<u16>,
    Option<&'static str>,
    Option<&'static str>,
);

/// Templates with the password raw in the user info.
const RAW_USER_INFO_TEMPLATES: &[RawTemplate] = &[
    (
        "postgresql://app_user:{pw}@db-host.example.net:5432/appdb?sslmode=verify-full",
        "db-host.example.net",
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "postgres://app_user:{pw}@db-host1.example.net:5432,db-host2.example.net:5433/appdb\
         ?target_session_attrs=read-write",
        "db-host1.example.net",
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "jdbc:postgresql://app_user:{pw}@db-host.example.net/appdb",
        "db-host.example.net",
        None,
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "mysql://app_user:{pw}@10.0.0.5:3306/appdb",
        "10.0.0.5",
        Some(3306),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "jdbc:mysql://app_user:{pw}@db-host.example.net:3306/appdb?useSSL=true",
        "db-host.example.net",
        Some(3306),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "mongodb://app_user:{pw}@mongo1.example.net:27017,mongo2.example.net:27017/appdb\
         ?replicaSet=rs0",
        "mongo1.example.net",
        Some(27017),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "mongodb+srv://app_user:{pw}@cluster0.abc12.mongodb.net/appdb?retryWrites=true&w=1",
        "cluster0.abc12.mongodb.net",
        None,
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "redis://:{pw}@cache.example.net:6379/0",
        "cache.example.net",
        Some(6379),
        Some("0"),
        None,
    ),
    (
        "rediss://default:{pw}@cache.example.net:6380",
        "cache.example.net",
        Some(6380),
        None,
        Some("default"),
    ),
    (
        "amqps://app_user:{pw}@[2001:db8::5]:5671/appdb",
        "2001:db8::5",
        Some(5671),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "jdbc:oracle:thin:app_user/{pw}@db-host.example.net:1521:APPDB",
        "db-host.example.net",
        Some(1521),
        Some("APPDB"),
        Some("app_user"),
    ),
    (
        "jdbc:oracle:thin:app_user/{pw}@//db-host.example.net:1521/appdb",
        "db-host.example.net",
        Some(1521),
        Some("appdb"),
        Some("app_user"),
    ),
];

/// Checks `template` with `{pw}` replaced by `written`, whose meaning is `password`.
#[track_caller]
fn check_template(template: &str, written: &str, password: &str, expect: Expect) {
    let conn_str = template.replace("{pw}", written);
    check(&conn_str, password, expect);
    if password.contains('%') {
        // Also the decoded form must not leak (the encoded one holds all but `%XX`).
        let decoded = password
            .replace("%40", "@")
            .replace("%2F", "/")
            .replace("%3F", "?");
        assert_no_password_leak(&conn_str, &decoded);
    }
}

#[test]
fn raw_passwords_in_the_user_info_never_change_the_facts() {
    for password in passwords() {
        for &(template, host, port, database, username) in RAW_USER_INFO_TEMPLATES {
            check_template(
                template,
                &password,
                &password,
                Facts(Some(host), port, database, username),
            );
        }
    }
}

#[test]
fn libpq_keyword_passwords_quoted_or_not_never_change_the_facts() {
    let facts = Facts(
        Some("db-host.example.net"),
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    );
    let quoted = "host=db-host.example.net port=5432 dbname=appdb user=app_user \
                  password='{pw}' sslmode=require";
    let unquoted = "host = db-host.example.net port=5432 password={pw} dbname=appdb user= app_user";
    for password in passwords() {
        check_template(quoted, &libpq_quoted(&password), &password, facts);
        if !password.contains(' ') {
            check_template(unquoted, &password.replace('\\', "\\\\"), &password, facts);
        }
    }
}

#[test]
fn ado_odbc_and_sqlserver_passwords_quoted_or_braced_never_change_the_facts() {
    let facts = Facts(
        Some("db-host.example.net"),
        Some(1433),
        Some("appdb"),
        Some("app_user"),
    );
    let ado = "Server=tcp:db-host.example.net,1433;Initial Catalog=appdb;User ID=app_user;\
               Password={pw};Encrypt=True";
    let odbc = "Driver={ODBC Driver 18 for SQL Server};Server=db-host.example.net,1433;\
                Database=appdb;Uid=app_user;Pwd={pw};";
    let jdbc = "jdbc:sqlserver://db-host.example.net:1433;databaseName=appdb;user=app_user;\
                password={pw};encrypt=true";
    for password in passwords() {
        let double_quoted = format!("\"{}\"", password.replace('"', "\"\""));
        let braced = format!("{{{}}}", password.replace('}', "}}"));
        check_template(ado, &double_quoted, &password, facts);
        check_template(odbc, &braced, &password, facts);
        check_template(jdbc, &braced, &password, facts);
        if !password.contains(';') {
            check_template(ado, &password, &password, facts);
        }
    }
}

#[test]
fn passwords_in_a_jdbc_query_are_never_reported() {
    for password in passwords() {
        for template in [
            "jdbc:postgresql://db-host.example.net:5432/appdb?user=app_user&password={pw}",
            "jdbc:mysql://db-host.example.net:3306/appdb?user=app_user&password={pw}&useSSL=true",
        ] {
            let conn_str = template.replace("{pw}", &password);
            let facts = assert_no_password_leak(&conn_str, &password);
            // Either the one reading there is, or none when the password's `@` makes two.
            if let Some(p) = facts {
                assert_eq!(p.host.as_deref(), Some("db-host.example.net"), "{conn_str}");
                assert_eq!(p.database.as_deref(), Some("appdb"), "{conn_str}");
                assert_eq!(p.username, None, "{conn_str}");
            }
        }
    }
}

// ---------------------------------------------------------------- random passwords

/// How a password goes into a template: as users paste it, or quoted as the form requires.
#[derive(Clone, Copy)]
enum Insert {
    /// As it is.
    Raw,
    /// In libpq single quotes: `\` and `'` escaped with `\`.
    LibpqQuoted,
    /// Unquoted in libpq: `\`, `'` and white space escaped with `\`.
    LibpqEscaped,
    /// In ADO.NET double quotes: `"` doubled.
    DoubleQuoted,
    /// In ODBC / JDBC braces: `}` doubled.
    Braced,
    /// As it is, in the `key=value;` form; skipped when that needs quotes.
    PairsUnquoted,
}

impl Insert {
    /// The password as written in the template, or `None` when this form cannot hold it.
    fn write(self, password: &str) -> Option<String> {
        Some(match self {
            Insert::Raw => password.to_owned(),
            Insert::LibpqQuoted => libpq_quoted(password),
            Insert::LibpqEscaped => {
                let mut out = String::new();
                for c in password.chars() {
                    if c == '\\' || c == '\'' || c.is_whitespace() {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out
            }
            Insert::DoubleQuoted => format!("\"{}\"", password.replace('"', "\"\"")),
            Insert::Braced => format!("{{{}}}", password.replace('}', "}}")),
            Insert::PairsUnquoted => {
                let starts_quoted = password.starts_with(['"', '\'', '{']);
                if password.contains(';') || starts_quoted || password.trim() != password {
                    return None;
                }
                password.to_owned()
            }
        })
    }
}

/// `(template, how the password goes in, its host, port, database, user)`; a host of `None`
/// means the string reads for no facts whatever the password.
type Template = (
    &'static str,
    Insert,
    Option<&'static str>,
    Option<u16>,
    Option<&'static str>,
    Option<&'static str>,
);

/// Templates whose quoting leaves one reading, so that the facts must be exact or none.
const ANY_TEMPLATES: &[Template] = &[
    (
        "postgresql://app_user:{pw}@db-host.example.net:5432/appdb?sslmode=verify-full",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "postgres://app_user:{pw}@db-host1.example.net:5432,db-host2.example.net:5433/appdb",
        Insert::Raw,
        Some("db-host1.example.net"),
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "mysql://app_user:{pw}@10.0.0.5:3306/appdb",
        Insert::Raw,
        Some("10.0.0.5"),
        Some(3306),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "mongodb+srv://app_user:{pw}@cluster0.abc12.mongodb.net/appdb?retryWrites=true&w=1",
        Insert::Raw,
        Some("cluster0.abc12.mongodb.net"),
        None,
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "redis://:{pw}@cache.example.net:6379/0",
        Insert::Raw,
        Some("cache.example.net"),
        Some(6379),
        Some("0"),
        None,
    ),
    (
        "amqps://app_user:{pw}@[2001:db8::5]:5671/appdb",
        Insert::Raw,
        Some("2001:db8::5"),
        Some(5671),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "jdbc:postgresql://db-host.example.net:5432/appdb?user=app_user&password={pw}",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(5432),
        Some("appdb"),
        None,
    ),
    (
        "jdbc:mysql://db-host.example.net:3306/appdb?user=app_user&password={pw}&useSSL=true",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(3306),
        Some("appdb"),
        None,
    ),
    (
        "jdbc:derby://db-host.example.net:1527/appdb;user=app_user;password={pw}",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(1527),
        None,
        None,
    ),
    (
        "jdbc:mysql://(host=db-host.example.net,port=3306,user=app_user,password={pw})/appdb",
        Insert::Raw,
        None,
        None,
        None,
        None,
    ),
    (
        "jdbc:oracle:thin:app_user/{pw}@db-host.example.net:1521:APPDB",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(1521),
        Some("APPDB"),
        Some("app_user"),
    ),
    (
        "jdbc:oracle:thin:app_user/{pw}@//db-host.example.net:1521/appdb",
        Insert::Raw,
        Some("db-host.example.net"),
        Some(1521),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "host=db-host.example.net port=5432 dbname=appdb user=app_user password='{pw}'",
        Insert::LibpqQuoted,
        Some("db-host.example.net"),
        Some(5432),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "password={pw} host=db-host.example.net dbname=appdb user=app_user",
        Insert::LibpqEscaped,
        Some("db-host.example.net"),
        None,
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "Server=tcp:db-host.example.net,1433;Initial Catalog=appdb;User ID=app_user;Password={pw}",
        Insert::PairsUnquoted,
        Some("db-host.example.net"),
        Some(1433),
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "Server=db-host.example.net;Password={pw};Database=appdb;User ID=app_user",
        Insert::DoubleQuoted,
        Some("db-host.example.net"),
        None,
        Some("appdb"),
        Some("app_user"),
    ),
    (
        "Driver={ODBC Driver 18};Server=db-host.example.net;Pwd={pw};Uid=app_user",
        Insert::Braced,
        Some("db-host.example.net"),
        None,
        None,
        Some("app_user"),
    ),
    (
        "jdbc:sqlserver://db-host.example.net:1433;password={pw};databaseName=appdb;user=app_user",
        Insert::Braced,
        Some("db-host.example.net"),
        Some(1433),
        Some("appdb"),
        Some("app_user"),
    ),
];

/// Pieces passwords are made of: every separator, and pieces of connection-string syntax.
/// Letters of `MARKERS` appear in no template and in no type or field name of the `Debug`
/// output (and every digit is in some port), so a piece holding one came from the password.
const TOKENS: &[&str] = &[
    "@",
    ":",
    "/",
    "?",
    "#",
    ";",
    "=",
    "&",
    " ",
    "\"",
    "'",
    "%",
    "(",
    ")",
    ",",
    "{",
    "}",
    "[",
    "]",
    "\\",
    "+",
    "!",
    "Z",
    "Q",
    "X",
    "K",
    "J",
    "W",
    "Y",
    "@ZQ",
    "@XK.example.net",
    ":5432",
    "/ZQdb",
    "?a=b",
    "&x=",
    "host=",
    " host=ZQ",
    " user=XK",
    ";Server=ZQ",
    ";User ID=XK",
    "Database=",
    "dbname=",
    "password=",
    "@//",
    "//",
    "%40",
    "::1",
    "@[::1]",
    "JW:",
    "@YZ/",
    "('",
];

/// The letters that make a piece of a password significant.
const MARKERS: &[char] = &['Z', 'Q', 'X', 'K', 'J', 'W', 'Y'];

/// A small xorshift generator: the test is reproducible without a dependency.
struct Rng(u64);

impl Rng {
    /// The next number below `n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_passwords_never_leak_and_never_change_the_facts() {
    // More or other cases: CONN_FUZZ_ITERATIONS=1000000 CONN_FUZZ_SEED=7 cargo test ...
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = Rng(env("CONN_FUZZ_SEED", 0x9e37_79b9_7f4a_7c15).max(1));
    for _ in 0..env("CONN_FUZZ_ITERATIONS", 20_000) {
        let count = 1 + rng.below(8);
        let password: String = (0..count)
            .map(|_| TOKENS[rng.below(TOKENS.len())])
            .collect();
        let significant: Vec<String> = pieces(&password)
            .into_iter()
            .filter(|piece| piece.contains(MARKERS))
            .collect();
        let (template, insert, host, port, database, username) =
            ANY_TEMPLATES[rng.below(ANY_TEMPLATES.len())];
        let Some(written) = insert.write(&password) else {
            continue;
        };
        let conn_str = template.replace("{pw}", &written);
        assert_no_piece_leaks(&conn_str, &significant);
        let facts = parse_connection_facts(&conn_str);
        let exact = ParsedConnection {
            host: host.map(str::to_owned),
            port,
            database: database.map(str::to_owned),
            username: username.map(str::to_owned),
        };
        assert!(
            facts == Some(exact) || facts == Some(ParsedConnection::default()),
            "{conn_str:?} read as {facts:?}"
        );
    }
}

// ---------------------------------------------------------------- fuzzing finds

/// Found by the `connection_string` fuzz target after 1.86 million runs: a URL carrying a
/// password inside an unquoted `user=` value, after a pair whose key is not a word, was read
/// with certainty and the user held the password. Odd keys and URLs inside a reported value
/// now make the reading uncertain.
#[test]
fn a_url_inside_an_unquoted_user_value_is_not_taken_for_the_user() {
    let s = "-s-,m://:{PWl\u{b}=`p;user\u{b}=er}/m://:username/\u{6}/\r\u{129}1\u{3021}";
    check(s, "username", NoFacts);
    check("Server=db;User ID=ab/m://u:Qz7Kx9w@h/x", "Qz7Kx9w", NoFacts);
    check("Se{rver=db;User ID=app", "Kq8Wz3vY", NoFacts);
    // Ordinary keys with spaces, underscores, dots and hyphens still read.
    check(
        "Server=db.example.net;Initial Catalog=inv;User ID=app;Trust_Server-Certificate.x=true",
        "Kq8Wz3vY",
        Facts(Some("db.example.net"), None, Some("inv"), Some("app")),
    );
}

#[test]
fn a_url_inside_a_libpq_user_value_is_not_taken_for_the_user() {
    // Found by the connection_string fuzz target: a vertical tab makes this libpq keyword
    // form, whose `user` value runs on into a URL's user info.
    check("user\u{b}=er}/m://er:as:/m=p;_/", "as:/m=p;_", NoFacts);
    check("host=db user=ab/m://u:Qz7Kx9w@h/x", "Qz7Kx9w", NoFacts);
    check("host=db user=a=b", "Kq8Wz3vY", NoFacts);
    // Plain users still read.
    check(
        "host=db.example.net dbname=inv user=app",
        "Kq8Wz3vY",
        Facts(Some("db.example.net"), None, Some("inv"), Some("app")),
    );
}
