//! Text <-> token ids, and chat templates.
//!
//! For GGUF models the tokenizer is rebuilt from the metadata
//! (`tokenizer.ggml.*`): a byte-level BPE with the file's vocabulary and
//! merges, the pre-tokenizer its `tokenizer.ggml.pre` names, and every
//! control token registered as a special token (so `<|im_start|>` in a prompt
//! is one token). Chat templates are rendered with minijinja using the
//! variables Hugging Face templates expect.

use std::collections::BTreeMap;

use minijinja::{context, Environment};
use serde::Serialize;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::gguf::Gguf;
use super::EngineError;

/// GGUF token type of control tokens.
const CONTROL: i32 = 3;
/// GGUF token type of user-defined tokens.
const USER_DEFINED: i32 = 4;

/// One chat message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message { role: role.to_owned(), content: content.to_owned() }
    }
}

#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    bos_token: Option<String>,
    eos_token: Option<String>,
    add_bos: Option<u32>,
    stop_ids: Vec<u32>,
    chat_template: Option<String>,
}

fn tk_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Tokenizer(e.to_string())
}

/// The pre-tokenizer a GGUF `tokenizer.ggml.pre` name stands for.
fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper, EngineError> {
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, EngineError> {
        Ok(Split::new(SplitPattern::Regex(pattern.to_owned()), SplitDelimiterBehavior::Isolated, false).map_err(tk_err)?.into())
    };
    Ok(match pre {
        // Digits one per token, then GPT-2 byte-level splitting.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into(),
        "default" | "gpt-2" | "gpt2" => ByteLevel::new(false, true, true).into(),
        "llama-bpe" | "llama3" => Sequence::new(vec![
            split(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")?,
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
        "qwen2" => Sequence::new(vec![
            split(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")?,
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
        other => {
            return Err(EngineError::Unsupported(format!("GGUF pre-tokenizer `{other}` (supported: smollm, gpt-2, llama-bpe, qwen2)")))
        }
    })
}

impl TextTokenizer {
    /// Rebuilds the tokenizer of a GGUF model from its metadata.
    pub fn from_gguf(gguf: &Gguf) -> Result<TextTokenizer, EngineError> {
        let model = gguf.string("tokenizer.ggml.model")?.unwrap_or_default();
        if model != "gpt2" {
            return Err(EngineError::Unsupported(format!("GGUF tokenizer model `{model}` (supported: gpt2 byte-level BPE)")));
        }
        let tokens = gguf.strings("tokenizer.ggml.tokens")?.ok_or_else(|| tk_err("GGUF has no tokenizer.ggml.tokens"))?;
        let merges = gguf.strings("tokenizer.ggml.merges")?.unwrap_or_default();
        let types = gguf.ints("tokenizer.ggml.token_type")?.unwrap_or_default();
        let pre = gguf.string("tokenizer.ggml.pre")?.unwrap_or_else(|| "default".into());

        let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let merges = merges
            .iter()
            .map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or_else(|| tk_err(format!("bad merge `{m}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(tk_err)?;
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tokenizer(&pre)?));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .filter(|(_, t)| **t == CONTROL || **t == USER_DEFINED)
            .map(|(tok, t)| AddedToken::from(tok.clone(), *t == CONTROL))
            .collect();
        inner.add_special_tokens(special).map_err(tk_err)?;

        let id = |key: &str| -> Result<Option<u32>, EngineError> { Ok(gguf.number(key)?.map(|v| v as u32)) };
        let bos = id("tokenizer.ggml.bos_token_id")?;
        let eos = id("tokenizer.ggml.eos_token_id")?;
        let add_bos = gguf.number("tokenizer.ggml.add_bos_token")?.is_some_and(|v| v != 0.0);
        let name = |i: Option<u32>| i.and_then(|i| tokens.get(i as usize).cloned());
        let chat_template = gguf.string("tokenizer.chat_template")?;
        let mut stop_ids: Vec<u32> = eos.into_iter().collect();
        for end in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"] {
            let used = chat_template.as_deref().is_some_and(|t| t.contains(end)) || name(eos).as_deref() == Some(end);
            if let (true, Some(i)) = (used, inner.token_to_id(end)) {
                if !stop_ids.contains(&i) {
                    stop_ids.push(i);
                }
            }
        }
        Ok(TextTokenizer {
            inner,
            bos_token: name(bos),
            eos_token: name(eos),
            add_bos: if add_bos { bos } else { None },
            stop_ids,
            chat_template,
        })
    }

    /// Loads `tokenizer.json` with `tokenizer_config.json` (chat template,
    /// BOS/EOS, add_bos_token) and `generation_config.json` (stop ids) from
    /// a Hugging Face style model directory.
    pub fn from_dir(dir: &std::path::Path) -> Result<TextTokenizer, EngineError> {
        let inner = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| tk_err(format!("{}: {e}", dir.join("tokenizer.json").display())))?;
        let read_json = |name: &str| -> Result<serde_json::Value, EngineError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| tk_err(format!("{}: {e}", path.display()))),
                Err(_) => Ok(serde_json::Value::Null),
            }
        };
        let config = read_json("tokenizer_config.json")?;
        let generation = read_json("generation_config.json")?;
        let token_text = |v: &serde_json::Value| -> Option<String> {
            v.as_str().map(str::to_owned).or_else(|| v.get("content").and_then(|c| c.as_str()).map(str::to_owned))
        };
        let bos_token = token_text(&config["bos_token"]);
        let eos_token = token_text(&config["eos_token"]);
        // Newer repositories keep the template in its own file.
        let chat_template =
            config["chat_template"].as_str().map(str::to_owned).or_else(|| std::fs::read_to_string(dir.join("chat_template.jinja")).ok());
        let add_bos = config["add_bos_token"].as_bool().unwrap_or(false);
        let mut stop_ids: Vec<u32> = match &generation["eos_token_id"] {
            serde_json::Value::Array(v) => v.iter().filter_map(|x| x.as_u64().map(|i| i as u32)).collect(),
            serde_json::Value::Number(n) => n.as_u64().map(|i| i as u32).into_iter().collect(),
            _ => Vec::new(),
        };
        if let Some(id) = eos_token.as_deref().and_then(|t| inner.token_to_id(t)) {
            if !stop_ids.contains(&id) {
                stop_ids.push(id);
            }
        }
        let add_bos = if add_bos { bos_token.as_deref().and_then(|t| inner.token_to_id(t)) } else { None };
        Ok(TextTokenizer { inner, bos_token, eos_token, add_bos, stop_ids, chat_template })
    }

    /// Writes `tokenizer.json`, `tokenizer_config.json` and
    /// `generation_config.json` into `dir` (Hugging Face layout).
    pub fn save_dir(&self, dir: &std::path::Path, context: Option<i32>) -> Result<(), EngineError> {
        let io = |e: std::io::Error| tk_err(format!("{}: {e}", dir.display()));
        self.inner.save(dir.join("tokenizer.json"), false).map_err(tk_err)?;
        let config = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "add_bos_token": self.add_bos.is_some(),
            "clean_up_tokenization_spaces": false,
            "model_max_length": context,
            "chat_template": self.chat_template,
        });
        std::fs::write(dir.join("tokenizer_config.json"), serde_json::to_string_pretty(&config).unwrap_or_default()).map_err(io)?;
        let generation = serde_json::json!({ "eos_token_id": self.stop_ids });
        std::fs::write(dir.join("generation_config.json"), serde_json::to_string_pretty(&generation).unwrap_or_default()).map_err(io)
    }

    /// Token ids of `text`; special-token strings become their tokens, and
    /// BOS is added only when the tokenizer says so.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        let enc = self.inner.encode(text, false).map_err(tk_err)?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        ids.extend(self.add_bos);
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Text of `ids`, special tokens included.
    pub fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.inner.decode(ids, false).map_err(tk_err)
    }

    /// The token string of one id.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Tokens that end a generation.
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_some()
    }

    /// Renders the chat template for `messages`.
    pub fn apply_chat_template(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, EngineError> {
        let template = self.chat_template.as_deref().ok_or_else(|| tk_err("the model has no chat template"))?;
        let tokens = (self.bos_token.clone().unwrap_or_default(), self.eos_token.clone().unwrap_or_default());
        render_chat_template(template, messages, add_generation_prompt, &tokens)
    }
}

/// Instructions a chat template may execute per rendering: real templates
/// take a few thousand; a template from a hostile model file stops here
/// with an error instead of running without end.
pub const CHAT_TEMPLATE_FUEL: u64 = 2_000_000;

/// Renders `template` (a model's Jinja chat template) for `messages`, with
/// `(bos, eos)` as its `bos_token` and `eos_token`.
pub fn render_chat_template(
    template: &str,
    messages: &[Message],
    add_generation_prompt: bool,
    (bos, eos): &(String, String),
) -> Result<String, EngineError> {
    let mut env = Environment::new();
    env.set_fuel(Some(CHAT_TEMPLATE_FUEL));
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    env.add_template("chat", template).map_err(|e| tk_err(format!("chat template: {e}")))?;
    let tmpl = env.get_template("chat").map_err(tk_err)?;
    let extra: BTreeMap<&str, String> = BTreeMap::new();
    tmpl.render(context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos,
        eos_token => eos,
        ..minijinja::Value::from_serialize(&extra)
    })
    .map_err(|e| tk_err(format!("chat template: {e}")))
}

#[cfg(test)]
mod chat_template_tests {
    use super::*;

    #[test]
    fn a_template_that_would_run_without_end_stops_with_an_error() {
        let tokens = (String::from("<s>"), String::from("</s>"));
        let fine = render_chat_template(
            "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
            &[Message::new("user", "hi")],
            true,
            &tokens,
        );
        assert_eq!(fine.expect("renders"), "<s>user: hi\n");
        let endless = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}";
        let e = render_chat_template(endless, &[Message::new("user", "hi")], true, &tokens).expect_err("stopped");
        assert!(e.to_string().contains("chat template") && e.to_string().to_lowercase().contains("fuel"), "{e}");
    }
}
