//! What a session key says about the conversation (`docs/ARCHITECTURE.md`, "Session keys"): agent, user, channel.

/// `agent:<agentId>:<rest>`; legacy keys without the prefix have no agent.
pub fn agent_id(session_key: &str) -> Option<&str> {
    let mut parts = session_key.split(':');
    (parts.next()? == "agent").then_some(())?;
    let id = parts.next()?;
    parts.next()?;
    Some(id)
}

/// The end user, where the key names one: `openai-user:<user>` (HTTP endpoint) or a direct peer.
pub fn user_id(session_key: &str) -> Option<&str> {
    let base = session_key.split(":thread:").next().unwrap_or(session_key);
    let parts: Vec<&str> = base.split(':').collect();
    for (i, p) in parts.iter().enumerate() {
        if (*p == "openai-user" || *p == "direct") && i + 1 < parts.len() {
            return Some(parts[parts.len() - 1]).filter(|u| !u.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_key_shapes() {
        assert_eq!(agent_id("agent:main:main"), Some("main"));
        assert_eq!(agent_id("agent:ops:telegram:direct:42"), Some("ops"));
        assert_eq!(agent_id("legacy-key"), None);
        assert_eq!(user_id("agent:main:openai-user:alice"), Some("alice"));
        assert_eq!(user_id("agent:main:telegram:acct:direct:42:thread:7"), Some("42"));
        assert_eq!(user_id("agent:main:e2e-chat"), None);
    }
}
