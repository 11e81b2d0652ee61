//! What `parse` promises about a whole file, beyond any one diagnostic (those are in the
//! golden files, `tests/data/sdl/`): when it stops early, that one run reports the
//! problems of every pass, in source order, and that warnings come with the model.

use super::parse;
use expect_test::{expect, Expect};

/// Parses `src` and compares one line per diagnostic (`code line:column message`), then
/// whether a model came back, with `expected`.
#[track_caller]
fn check(src: &str, expected: Expect) {
    let (model, diags) = parse("t.graphql", src);
    let mut out = String::new();
    for d in &diags {
        let (file, line, column) = d.location();
        assert_eq!(file, "t.graphql", "{d:?}");
        assert!(d.span.is_some(), "{d:?}");
        out.push_str(&format!("{} {line}:{column} {}\n", d.code, d.message));
    }
    out.push_str(match &model {
        Some(_) => "model\n",
        None => "no model\n",
    });
    assert_eq!(model.is_some(), !crate::diag::has_errors(&diags));
    expected.assert_eq(&out);
}

#[test]
fn blank_files_are_empty_schemas() {
    check("", expect![["model\n"]]);
    check("\n  # only a comment\r\n", expect![["model\n"]]);
}

#[test]
fn one_run_reports_every_pass_in_source_order() {
    // Found by the names pass (last), the foreign-key pass, rls, defaults, the field
    // pass and the definitions pass (first): reported by position.
    check(
        r#"type Account @wes_table @wes_rls(select: "id IN (SELECT id FROM acount)") {
  id: ID! @wes_pk
  seats: Int @wes_default(value: "many") @wes_index(name: "account_pkey")
  owner: ID @wes_fk(ref: "Account.nobody")
  kind: Kind
}
extend type Account { x: Int }
"#,
        expect![[r#"
            E0061 1:1 index on `account` is named `account_pkey`, like the primary key of `account`
            E0062 1:65 policy refers to table `acount`, which this schema does not define
            E0041 3:34 default `many` does not fit column type `integer` of field `seats`
            E0033 4:26 foreign key refers to `Account.nobody`, which does not exist
            E0020 5:3 field `kind` has unknown type `Kind`
            E0004 7:8 `extend` definitions are not supported
            no model
        "#]],
    );
}

#[test]
fn warnings_come_with_the_model() {
    check(
        "type Event @wes_table @wes_tabel {\n  at: DateTime!\n}\n",
        expect![[r#"
            W0102 1:1 table `event` has no primary key
            W0100 1:23 unknown directive `@wes_tabel` is ignored
            model
        "#]],
    );
}

#[test]
fn spelling_errors_stop_before_parsing() {
    // The unknown type on line 3 is not reported: the file is not parsed.
    check(
        "type M @wes_table @uid(\"m\") {\n  @@primaryKey(fields: [\"a\"])\n  a: Nope\n}\n",
        expect![[r#"
            E0003 1:24 `@uid` has a positional argument; GraphQL arguments must be named
            E0002 2:3 `@@primaryKey` is not GraphQL: directives take a single `@`
            no model
        "#]],
    );
}

#[test]
fn a_syntax_error_stops_everything_else() {
    check(
        "type A @wes_table {\n  id: ID! @wes_pk\n  x: Nope\n  y Int\n}\n",
        expect![[r#"
            E0001 4:5 invalid GraphQL: Unexpected `Int[Name]`; Expected :
            no model
        "#]],
    );
}

#[test]
fn positions_survive_crlf_and_comments() {
    check(
        "# one\r\n# two\r\ntype A @wes_table {\r\n  id: ID! @wes_pk\r\n  x: Nope\r\n}\r\n",
        expect![[r#"
            E0020 5:3 field `x` has unknown type `Nope`
            no model
        "#]],
    );
}
