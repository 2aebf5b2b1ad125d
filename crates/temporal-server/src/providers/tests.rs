use std::collections::BTreeMap;

use super::*;

// The variable is named without spaces around `=`, so the `.env_example` guard
// (crates/architecture), which reads clap's spaced `env` attributes as variables the
// server reads, does not take this test's name for one of the server's.
const FILE: &str = r#"
[[providers]]
id = "vllm-a"
api_kind = "openai:completions"
base_url = "http://127.0.0.1:8000/v1"
headers = { "x-route" = "a" }
header_env = { "x-proxy-token" = "PROXY_TOKEN" }

[[providers.models]]
id = "meta-llama/Llama-3.1-8B-Instruct"
context_window = 32000
output_tokens_default = 2000
output_tokens_max = 4000

[[providers]]
id = "claude"
api_kind = "anthropic:messages"
api_key_env="CLAUDE_KEYS"

[[providers.models]]
id = "claude-sonnet-4-5"
context_window = 200000
output_tokens_default = 8192
"#;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn parsed(text: &str) -> Result<Providers, ProvidersError> {
    Providers::from_specs(file::parse(text, "providers.toml")?)
}

#[track_caller]
fn invalid(text: &str, field: &str) -> String {
    let err = parsed(text).unwrap_err();
    let shown = err.to_string();
    match &err {
        ProvidersError::Invalid { field: f, .. } => assert_eq!(f, field, "{shown}"),
        other => panic!("expected an invalid {field}, got {other:?}"),
    }
    shown
}

fn provider(fields: &str) -> String {
    format!("[[providers]]\n{fields}\n")
}

#[test]
fn a_file_configures_providers_models_and_headers() {
    let providers = parsed(FILE).unwrap();
    let catalog = providers.catalog();
    let ids: Vec<&str> = catalog.providers().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["claude", "vllm-a"]);
    let vllm = catalog.provider("vllm-a").unwrap();
    assert_eq!(vllm.api_kind, ApiKind::OpenAiCompletions);
    assert_eq!(vllm.host.as_deref(), Some("127.0.0.1:8000"));
    let model = catalog
        .model("vllm-a", "meta-llama/Llama-3.1-8B-Instruct")
        .unwrap();
    assert_eq!(model.context_window_tokens, 32_000);
    assert_eq!(model.output_tokens_max, Some(4_000));
    assert_eq!(
        catalog.provider("claude").unwrap().host.as_deref(),
        Some("api.anthropic.com")
    );
    let env = env_of(&[("PROXY_TOKEN", "tok-very-secret"), ("CLAUDE_KEYS", "k1,k2")]);
    let runtime = providers.runtime_with(&env).unwrap();
    let ids: Vec<&str> = runtime.provider_ids().collect();
    assert_eq!(ids.len(), 2);
    // Nothing printable about the providers shows a header value or key.
    let shown = format!("{providers:?}");
    assert!(!shown.contains("tok-very-secret"), "{shown}");
    assert!(!shown.contains("k1"), "{shown}");
}

#[test]
fn environment_providers_keep_their_ids_and_combine_with_the_file() {
    let env = env_of(&[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")]);
    let mut specs = file::parse(FILE, "f").unwrap();
    specs.extend(env_specs(&env));
    let providers = Providers::from_specs(specs).unwrap();
    let ids: Vec<&str> = providers
        .catalog()
        .providers()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["claude", "openai", "openai-chat", "vllm-a"]);
    assert!(env_specs(&env_of(&[])).is_empty());
    let anthropic = env_specs(&env_of(&[("ANTHROPIC_API_KEY", "sk-ant")]));
    assert_eq!(anthropic.len(), 1);
    assert_eq!(anthropic[0].id, "anthropic");
}

#[test]
fn bad_ids_are_refused() {
    for id in [
        "",
        "Upper",
        "under_score",
        "-lead",
        &"x".repeat(65),
        "sp ace",
    ] {
        let text = provider(&format!("id = {id:?}\napi_kind = \"openai:responses\""));
        invalid(&text, "id");
    }
}

#[test]
fn duplicate_ids_are_refused_naming_both_sources() {
    let twice = format!(
        "{}{}",
        provider("id = \"p\"\napi_kind = \"openai:responses\""),
        provider("id = \"p\"\napi_kind = \"anthropic:messages\"")
    );
    assert!(matches!(
        parsed(&twice),
        Err(ProvidersError::Duplicate { .. })
    ));
    let file = provider("id = \"openai\"\napi_kind = \"openai:responses\"");
    let err = Providers::load(None, &env_of(&[]))
        .map(|_| ())
        .and_then(|()| {
            let mut specs = file::parse(&file, "f")?;
            specs.extend(env_specs(&env_of(&[("OPENAI_API_KEY", "sk-x")])));
            Providers::from_specs(specs)
        });
    let shown = err.unwrap_err().to_string();
    assert!(shown.contains("\"openai\""), "{shown}");
    assert!(shown.contains("providers file"), "{shown}");
    assert!(shown.contains("OPENAI_API_KEY"), "{shown}");
    assert!(!shown.contains("sk-x"), "{shown}");
}

#[test]
fn inline_keys_are_refused_without_showing_them() {
    let text = provider(
        "id = \"p\"\napi_kind = \"openai:responses\"\napi_key = \"sk-inline-very-secret\"",
    );
    let shown = invalid(&text, "api_key");
    assert!(!shown.contains("sk-inline"), "{shown}");
    // A key pasted without quotes is a syntax error: its line is not quoted back.
    let text =
        provider("id = \"p\"\napi_kind = \"openai:responses\"\napi_key = sk-unquoted-secret");
    let err = parsed(&text).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ProvidersError::Syntax { .. }), "{shown}");
    assert!(!shown.contains("unquoted-secret"), "{shown}");
    assert!(shown.contains("line 4"), "{shown}");
}

#[test]
fn credential_headers_are_refused_unless_taken_from_the_environment() {
    for name in [
        "Authorization",
        "x-api-key",
        "cookie",
        "x-goog-api-key",
        "x-auth-token",
    ] {
        let text = provider(&format!(
            "id = \"p\"\napi_kind = \"openai:responses\"\nheaders = {{ {name:?} = \"v-secret\" }}"
        ));
        let shown = invalid(&text, "headers");
        assert!(!shown.contains("v-secret"), "{shown}");
        let from_env = provider(&format!(
            "id = \"p\"\napi_kind = \"openai:responses\"\nheader_env = {{ {name:?} = \"VAR\" }}"
        ));
        parsed(&from_env).unwrap();
    }
}

#[test]
fn missing_environment_variables_fail_the_worker_naming_the_variable() {
    let providers = parsed(FILE).unwrap();
    let Err(err) = providers.runtime_with(&env_of(&[("PROXY_TOKEN", "t")])) else {
        panic!("a missing key variable was accepted");
    };
    assert!(
        matches!(&err, ProvidersError::MissingEnv { var, field: "api_key_env", .. } if var == "CLAUDE_KEYS"),
        "{err}"
    );
    let Err(err) = providers.runtime_with(&env_of(&[("CLAUDE_KEYS", "k")])) else {
        panic!("a missing header variable was accepted");
    };
    assert!(
        matches!(&err, ProvidersError::MissingEnv { var, field: "header_env", .. } if var == "PROXY_TOKEN"),
        "{err}"
    );
}

#[test]
fn urls_kinds_models_and_counts_are_bounded() {
    for url in [
        "ftp://x",
        "https://user:pw@x/v1",
        "https://x/v1?key=abc",
        "https://",
        "https://x y",
    ] {
        let text = provider(&format!(
            "id = \"p\"\napi_kind = \"openai:responses\"\nbase_url = {url:?}"
        ));
        let shown = invalid(&text, "base_url");
        assert!(!shown.contains("pw@") && !shown.contains("abc"), "{shown}");
    }
    invalid(&provider("id = \"p\"\napi_kind = \"openai\""), "api_kind");
    let both =
        "id = \"p\"\napi_kind = \"openai:responses\"\napi_key_env = \"A\"\napi_key_file = \"/f\"";
    invalid(&provider(both), "api_key_env");
    invalid(
        &provider("id = \"p\"\napi_kind = \"openai:responses\"\napi_key_env = \"NOT-A-VAR\""),
        "api_key_env",
    );
    let bad_model = format!(
        "{}[[providers.models]]\nid = \"m\"\ncontext_window = 100\noutput_tokens_default = 200\n",
        provider("id = \"p\"\napi_kind = \"openai:responses\"")
    );
    assert!(matches!(
        parsed(&bad_model),
        Err(ProvidersError::Catalog(_))
    ));
    let many: String = (0..=file::PROVIDERS_MAX)
        .map(|i| provider(&format!("id = \"p{i}\"\napi_kind = \"openai:responses\"")))
        .collect();
    assert!(matches!(parsed(&many), Err(ProvidersError::TooMany { .. })));
    assert!(matches!(
        parsed("[[providers]]\nid = \"p\"\napi_kind = \"openai:responses\"\nsurprise = 1\n"),
        Err(ProvidersError::Syntax { .. })
    ));
}

#[test]
fn keys_come_from_files_and_the_file_is_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key");
    std::fs::write(&key_path, "sk-file-key-0123456789\n").unwrap();
    let text = provider(&format!(
        "id = \"p\"\napi_kind = \"openai:responses\"\napi_key_file = {:?}",
        key_path.display().to_string()
    ));
    let file_path = dir.path().join("providers.toml");
    std::fs::write(&file_path, &text).unwrap();
    let providers = Providers::load(Some(&file_path), &env_of(&[])).unwrap();
    let runtime = providers.runtime_with(&env_of(&[])).unwrap();
    assert_eq!(runtime.provider_ids().collect::<Vec<_>>(), ["p"]);
    std::fs::write(&key_path, "").unwrap();
    assert!(matches!(
        providers.runtime_with(&env_of(&[])),
        Err(ProvidersError::KeyFile { .. })
    ));
    let missing = Providers::load(Some(&dir.path().join("absent.toml")), &env_of(&[]));
    assert!(matches!(missing, Err(ProvidersError::Read { .. })));
}

#[test]
fn prices_come_from_the_prices_file_and_a_bad_one_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.json");
    std::fs::write(
        &path,
        r#"{"prices": [{"provider": "local", "model": "llama3.3",
            "inputUsdPerMillion": 0.1, "outputUsdPerMillion": 0.2}]}"#,
    )
    .unwrap();
    let path_text = path.display().to_string();
    let providers = Providers::load(None, &env_of(&[(PRICES_FILE_VAR, &path_text)])).unwrap();
    let priced = |providers: &Providers, provider, model| {
        providers
            .prices()
            .lookup(provider, ApiKind::OpenAiCompletions, model)
            .is_some()
    };
    assert!(priced(&providers, "local", "llama3.3"));
    // The defaults stay unless the file says otherwise.
    assert!(priced(&providers, "openai", "gpt-5"));
    let defaults = Providers::load(None, &env_of(&[])).unwrap();
    assert!(!priced(&defaults, "local", "llama3.3"));

    std::fs::write(&path, r#"{"prices": [{"provider": "local"}]}"#).unwrap();
    let err = Providers::load(None, &env_of(&[(PRICES_FILE_VAR, &path_text)])).unwrap_err();
    assert!(matches!(err, ProvidersError::Prices(_)), "{err}");
    assert!(
        err.to_string().starts_with("LIGHTSPEED_PRICES_FILE: "),
        "{err}"
    );
}
