//! A prompt as the task builders write it: chat messages and plain text.

use serde::Serialize;

use crate::spec::PromptMode;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { role: role.into(), content: content.into() }
    }
}

/// A prompt as chat messages (for models with a chat template, which the
/// caller applies) and as plain text (for models without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    pub messages: Vec<ChatMessage>,
    /// The text a model continues: the whole prompt in continuation mode,
    /// the messages' plain form in chat mode (for models without a chat
    /// template).
    pub text: String,
    pub mode: PromptMode,
}
