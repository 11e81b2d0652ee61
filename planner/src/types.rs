//! PostgreSQL column types: the GraphQL scalar mapping, the `@wes_type(sql: ...)` parser
//! and the canonical spelling (the one `format_type()` prints, so a live catalog gives the
//! same text).

use serde::Serialize;
use std::fmt;

/// A base (non-array) column type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaseType {
    /// `smallint` (int2).
    SmallInt,
    /// `integer` (int4).
    Integer,
    /// `bigint` (int8).
    BigInt,
    /// `real` (float4).
    Real,
    /// `double precision` (float8).
    Double,
    /// `numeric`, `numeric(p)`, `numeric(p,s)`.
    Numeric {
        /// Total significant digits (1–1000), if declared.
        precision: Option<u32>,
        /// Digits after the decimal point, if declared.
        scale: Option<u32>,
    },
    /// `money`.
    Money,
    /// `text`.
    Text,
    /// `character varying` / `character varying(n)`.
    Varchar {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `character(n)` (`char` alone is `character(1)`).
    Char {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `citext` (extension `citext`).
    Citext,
    /// `boolean`.
    Boolean,
    /// `uuid`.
    Uuid,
    /// `date`.
    Date,
    /// `time without time zone`, optionally with fractional-second precision 0–6.
    Time {
        /// Fractional-second digits (0–6), if declared.
        precision: Option<u32>,
    },
    /// `time with time zone`, optionally with precision 0–6.
    TimeTz {
        /// Fractional-second digits (0–6), if declared.
        precision: Option<u32>,
    },
    /// `timestamp without time zone`, optionally with precision 0–6.
    Timestamp {
        /// Fractional-second digits (0–6), if declared.
        precision: Option<u32>,
    },
    /// `timestamp with time zone`, optionally with precision 0–6.
    TimestampTz {
        /// Fractional-second digits (0–6), if declared.
        precision: Option<u32>,
    },
    /// `interval` or `interval(p)` (fractional-second precision 0–6).
    Interval {
        /// Fractional-second digits (0–6), if declared.
        precision: Option<u32>,
    },
    /// `bit(n)`: exactly n bits (`bit` alone is `bit(1)`).
    Bit {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `bit varying(n)`: at most n bits; unbounded without a length.
    VarBit {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// `json` (text kept as written).
    Json,
    /// `jsonb`.
    Jsonb,
    /// `bytea`.
    Bytea,
    /// `inet`.
    Inet,
    /// `cidr`.
    Cidr,
    /// `macaddr`.
    MacAddr,
    /// `tsvector`.
    TsVector,
    /// `xml`.
    Xml,
    /// A user enum created by Wesley.
    Enum {
        /// The enum type's schema.
        schema: String,
        /// The enum type's name.
        name: String,
    },
}

/// A column type: a base type, possibly an array of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SqlType {
    /// The element type.
    pub base: BaseType,
    /// A one-dimensional array of `base` (PostgreSQL does not enforce dimensions).
    pub array: bool,
}

impl SqlType {
    /// `base`, not an array.
    pub fn scalar(base: BaseType) -> Self {
        SqlType { base, array: false }
    }

    /// The canonical spelling, identical to PostgreSQL's `format_type()` output (with enum
    /// names schema-qualified and unquoted): `character varying(64)`, `integer[]`,
    /// `timestamp with time zone`, `public.member_role`.
    pub fn canonical(&self) -> String {
        let mut s = self.base.canonical();
        if self.array {
            s.push_str("[]");
        }
        s
    }

    /// The spelling used in generated DDL (enum names quoted).
    pub fn to_sql(&self) -> String {
        let mut s = match &self.base {
            BaseType::Enum { schema, name } => crate::sql::qualified(schema, name),
            b => b.canonical(),
        };
        if self.array {
            s.push_str("[]");
        }
        s
    }

    /// True when values of `self` can be compared with values of `other` by a btree
    /// index, as a foreign key needs (same type family).
    pub fn fk_compatible(&self, other: &SqlType) -> bool {
        self.array == other.array && self.base.family() == other.base.family()
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn with_mod(name: &str, m: Option<u32>) -> String {
    match m {
        Some(n) => format!("{name}({n})"),
        None => name.to_string(),
    }
}

fn with_prec(name: &str, suffix: &str, p: Option<u32>) -> String {
    match p {
        Some(n) => format!("{name}({n}) {suffix}"),
        None => format!("{name} {suffix}"),
    }
}

impl BaseType {
    /// The spelling `format_type()` prints, e.g. `character varying(40)`, `numeric(12,2)`,
    /// `timestamp(3) with time zone`; enums as quoted `schema.name`.
    pub fn canonical(&self) -> String {
        match self {
            BaseType::SmallInt => "smallint".into(),
            BaseType::Integer => "integer".into(),
            BaseType::BigInt => "bigint".into(),
            BaseType::Real => "real".into(),
            BaseType::Double => "double precision".into(),
            BaseType::Numeric {
                precision: None, ..
            } => "numeric".into(),
            BaseType::Numeric {
                precision: Some(p),
                scale,
            } => {
                format!("numeric({},{})", p, scale.unwrap_or(0))
            }
            BaseType::Money => "money".into(),
            BaseType::Text => "text".into(),
            BaseType::Varchar { length } => with_mod("character varying", *length),
            BaseType::Char { length } => with_mod("character", Some(length.unwrap_or(1))),
            BaseType::Citext => "citext".into(),
            BaseType::Boolean => "boolean".into(),
            BaseType::Uuid => "uuid".into(),
            BaseType::Date => "date".into(),
            BaseType::Time { precision } => with_prec("time", "without time zone", *precision),
            BaseType::TimeTz { precision } => with_prec("time", "with time zone", *precision),
            BaseType::Timestamp { precision } => {
                with_prec("timestamp", "without time zone", *precision)
            }
            BaseType::TimestampTz { precision } => {
                with_prec("timestamp", "with time zone", *precision)
            }
            BaseType::Interval { precision } => with_mod("interval", *precision),
            BaseType::Bit { length } => with_mod("bit", Some(length.unwrap_or(1))),
            BaseType::VarBit { length } => with_mod("bit varying", *length),
            BaseType::Json => "json".into(),
            BaseType::Jsonb => "jsonb".into(),
            BaseType::Bytea => "bytea".into(),
            BaseType::Inet => "inet".into(),
            BaseType::Cidr => "cidr".into(),
            BaseType::MacAddr => "macaddr".into(),
            BaseType::TsVector => "tsvector".into(),
            BaseType::Xml => "xml".into(),
            BaseType::Enum { schema, name } => format!("{schema}.{name}"),
        }
    }

    /// Types in one family compare with each other (for FK compatibility).
    fn family(&self) -> String {
        match self {
            BaseType::SmallInt | BaseType::Integer | BaseType::BigInt => "int".into(),
            BaseType::Real | BaseType::Double => "float".into(),
            BaseType::Text | BaseType::Varchar { .. } | BaseType::Char { .. } => "text".into(),
            BaseType::Numeric { .. } => "numeric".into(),
            BaseType::Time { .. } => "time".into(),
            BaseType::TimeTz { .. } => "timetz".into(),
            BaseType::Timestamp { .. } => "timestamp".into(),
            BaseType::TimestampTz { .. } => "timestamptz".into(),
            BaseType::Interval { .. } => "interval".into(),
            BaseType::Bit { .. } | BaseType::VarBit { .. } => "bit".into(),
            other => other.canonical(),
        }
    }

    /// Needs `CREATE EXTENSION` before use.
    pub fn extension(&self) -> Option<&'static str> {
        match self {
            BaseType::Citext => Some("citext"),
            _ => None,
        }
    }

    /// Integer, floating-point or numeric (not `money`).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            BaseType::SmallInt
                | BaseType::Integer
                | BaseType::BigInt
                | BaseType::Real
                | BaseType::Double
                | BaseType::Numeric { .. }
        )
    }

    /// `smallint`, `integer` or `bigint`.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            BaseType::SmallInt | BaseType::Integer | BaseType::BigInt
        )
    }

    /// `text`, `varchar`, `char` or `citext`.
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            BaseType::Text | BaseType::Varchar { .. } | BaseType::Char { .. } | BaseType::Citext
        )
    }
}

/// The GraphQL scalars Wesley maps by itself, with their PostgreSQL types.
pub const BUILTIN_SCALARS: &[(&str, &str)] = &[
    ("ID", "uuid"),
    ("UUID", "uuid"),
    ("String", "text"),
    ("Int", "integer"),
    ("BigInt", "bigint"),
    ("Float", "double precision"),
    ("Decimal", "numeric"),
    ("Boolean", "boolean"),
    ("DateTime", "timestamptz"),
    ("Date", "date"),
    ("Time", "time"),
    ("JSON", "jsonb"),
];

/// Maps a built-in GraphQL scalar name to its type.
pub fn builtin_scalar(name: &str) -> Option<BaseType> {
    Some(match name {
        "ID" | "UUID" => BaseType::Uuid,
        "String" => BaseType::Text,
        "Int" => BaseType::Integer,
        "BigInt" => BaseType::BigInt,
        "Float" => BaseType::Double,
        "Decimal" => BaseType::Numeric {
            precision: None,
            scale: None,
        },
        "Boolean" => BaseType::Boolean,
        "DateTime" => BaseType::TimestampTz { precision: None },
        "Date" => BaseType::Date,
        "Time" => BaseType::Time { precision: None },
        "JSON" => BaseType::Jsonb,
        _ => return None,
    })
}

/// The type names `@wes_type(sql: ...)` accepts, for error messages.
pub const KNOWN_SQL_TYPES: &str = "smallint, integer, bigint, real, double precision, \
numeric[(p[,s])], decimal[(p[,s])], money, text, varchar[(n)], char[(n)], citext, boolean, \
uuid, date, time[(p)], timetz, timestamp[(p)], timestamptz[(p)], interval[(p)], bit[(n)], \
varbit[(n)], json, jsonb, bytea, inet, cidr, macaddr, tsvector, xml (any of them followed by [] \
for an array)";

/// Parses an explicit SQL type such as `varchar(64)`, `numeric(10, 2)`, `text[]`,
/// `timestamp with time zone`. Returns an explanation on failure.
pub fn parse_sql_type(text: &str) -> Result<SqlType, String> {
    let mut s = text.trim().to_ascii_lowercase();
    s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut array = false;
    if let Some(rest) = s.strip_suffix("[]") {
        array = true;
        s = rest.trim_end().to_string();
    }
    if s.ends_with("[]") {
        return Err("multi-dimensional arrays are not supported".into());
    }
    // Split "name(args) [suffix]".
    let (name, args, suffix) = match s.find('(') {
        Some(open) => {
            let close = s[open..]
                .find(')')
                .map(|c| c + open)
                .ok_or_else(|| format!("unbalanced parenthesis in `{text}`"))?;
            let args: Vec<String> = s[open + 1..close]
                .split(',')
                .map(|a| a.trim().to_string())
                .collect();
            (
                s[..open].trim().to_string(),
                Some(args),
                s[close + 1..].trim().to_string(),
            )
        }
        None => (s.clone(), None, String::new()),
    };
    let nums = |args: &Option<Vec<String>>, max: usize| -> Result<Vec<u32>, String> {
        match args {
            None => Ok(vec![]),
            Some(a) if a.len() > max => Err(format!("`{name}` takes at most {max} modifier(s)")),
            Some(a) => a
                .iter()
                .map(|x| {
                    x.parse::<u32>()
                        .map_err(|_| format!("`{x}` is not a whole number in `{text}`"))
                })
                .collect(),
        }
    };
    let no_args = |args: &Option<Vec<String>>| -> Result<(), String> {
        if args.is_some() {
            Err(format!("`{name}` takes no modifiers"))
        } else {
            Ok(())
        }
    };
    let full = if suffix.is_empty() {
        name.clone()
    } else {
        format!("{name} {suffix}")
    };
    let base = match full.as_str() {
        "smallint" | "int2" => no_args(&args).map(|_| BaseType::SmallInt)?,
        "integer" | "int" | "int4" => no_args(&args).map(|_| BaseType::Integer)?,
        "bigint" | "int8" => no_args(&args).map(|_| BaseType::BigInt)?,
        "real" | "float4" => no_args(&args).map(|_| BaseType::Real)?,
        "double precision" | "float8" | "float" => no_args(&args).map(|_| BaseType::Double)?,
        "numeric" | "decimal" => {
            let n = nums(&args, 2)?;
            let precision = n.first().copied();
            let scale = n.get(1).copied().or(precision.map(|_| 0));
            if let Some(p) = precision {
                if p == 0 || p > 1000 {
                    return Err(format!(
                        "numeric precision must be between 1 and 1000, not {p}"
                    ));
                }
                if scale.unwrap_or(0) > p {
                    return Err(format!(
                        "numeric scale cannot exceed its precision in `{text}`"
                    ));
                }
            }
            BaseType::Numeric { precision, scale }
        }
        "money" => no_args(&args).map(|_| BaseType::Money)?,
        "text" => no_args(&args).map(|_| BaseType::Text)?,
        "varchar" | "character varying" => BaseType::Varchar {
            length: positive(nums(&args, 1)?.first().copied())?,
        },
        "char" | "character" | "bpchar" => BaseType::Char {
            length: positive(nums(&args, 1)?.first().copied())?,
        },
        "citext" => no_args(&args).map(|_| BaseType::Citext)?,
        "boolean" | "bool" => no_args(&args).map(|_| BaseType::Boolean)?,
        "uuid" => no_args(&args).map(|_| BaseType::Uuid)?,
        "date" => no_args(&args).map(|_| BaseType::Date)?,
        "time" | "time without time zone" => BaseType::Time {
            precision: prec(nums(&args, 1)?.first().copied())?,
        },
        "timetz" | "time with time zone" => BaseType::TimeTz {
            precision: prec(nums(&args, 1)?.first().copied())?,
        },
        "timestamp" | "timestamp without time zone" => BaseType::Timestamp {
            precision: prec(nums(&args, 1)?.first().copied())?,
        },
        "timestamptz" | "timestamp with time zone" => BaseType::TimestampTz {
            precision: prec(nums(&args, 1)?.first().copied())?,
        },
        "interval" => BaseType::Interval {
            precision: prec(nums(&args, 1)?.first().copied())?,
        },
        "bit" => BaseType::Bit {
            // `bit` alone is `bit(1)`: stored so, so that the two spellings compare equal.
            length: Some(positive(nums(&args, 1)?.first().copied())?.unwrap_or(1)),
        },
        "varbit" | "bit varying" => BaseType::VarBit {
            length: positive(nums(&args, 1)?.first().copied())?,
        },
        "json" => no_args(&args).map(|_| BaseType::Json)?,
        "jsonb" => no_args(&args).map(|_| BaseType::Jsonb)?,
        "bytea" => no_args(&args).map(|_| BaseType::Bytea)?,
        "inet" => no_args(&args).map(|_| BaseType::Inet)?,
        "cidr" => no_args(&args).map(|_| BaseType::Cidr)?,
        "macaddr" => no_args(&args).map(|_| BaseType::MacAddr)?,
        "tsvector" => no_args(&args).map(|_| BaseType::TsVector)?,
        "xml" => no_args(&args).map(|_| BaseType::Xml)?,
        _ => {
            return Err(format!(
                "`{}` is not a PostgreSQL type Wesley knows",
                text.trim()
            ))
        }
    };
    Ok(SqlType { base, array })
}

fn positive(n: Option<u32>) -> Result<Option<u32>, String> {
    match n {
        Some(0) => Err("a length must be at least 1".into()),
        Some(n) if n > 10_485_760 => Err(format!("length {n} exceeds PostgreSQL's maximum")),
        other => Ok(other),
    }
}

fn prec(n: Option<u32>) -> Result<Option<u32>, String> {
    match n {
        Some(p) if p > 6 => Err(format!("time precision must be between 0 and 6, not {p}")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalizes() {
        for (i, o) in [
            ("varchar(64)", "character varying(64)"),
            ("VARCHAR", "character varying"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("decimal(12)", "numeric(12,0)"),
            ("char(3)", "character(3)"),
            ("char", "character(1)"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp(3)", "timestamp(3) without time zone"),
            ("text[]", "text[]"),
            ("int8", "bigint"),
            ("interval(3)", "interval(3)"),
            ("bit", "bit(1)"),
            ("bit(8)", "bit(8)"),
            ("varbit", "bit varying"),
            ("bit varying(5)", "bit varying(5)"),
            ("double   precision", "double precision"),
        ] {
            assert_eq!(parse_sql_type(i).unwrap().canonical(), o, "{i}");
        }
        for bad in [
            "varchar(x)",
            "serial",
            "numeric(0)",
            "varchar(0)",
            "int(3)",
            "text[][]",
            "varchar(10",
        ] {
            assert!(parse_sql_type(bad).is_err(), "{bad}");
        }
    }
}
