//! A server-sent events parser, fed chunks as they arrive: MCP answers in SSE both on the
//! legacy transport's GET stream and on Streamable HTTP POSTs. Knows nothing of MCP.

/// One dispatched event: its name (`message` when the stream gave none) and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub name: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    line: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl Parser {
    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&String::from_utf8_lossy(&line), &mut events);
            } else {
                self.line.push(b);
            }
        }
        events
    }

    /// Every event of a whole body (the stream has ended).
    pub fn parse_all(body: &str) -> Vec<Event> {
        let mut parser = Parser::default();
        let mut events = parser.push(body.as_bytes());
        events.extend(parser.push(b"\n\n"));
        events
    }

    fn line_done(&mut self, line: &str, events: &mut Vec<Event>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(Event {
                    name: self.name.take().unwrap_or_else(|| "message".to_string()),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            self.name = None;
            return;
        }
        if line.starts_with(':') {
            return; // a comment, e.g. a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_string()),
            "data" => self.data.push(value.to_string()),
            _ => {} // id, retry: not needed here
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut p = Parser::default();
        assert!(p.push(b"event: endpoint\r\nda").is_empty());
        let events =
            p.push(b"ta: /message?sessionId=1\r\n\r\n: ping\n\nid: 7\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(
            events,
            vec![
                Event {
                    name: "endpoint".into(),
                    data: "/message?sessionId=1".into()
                },
                Event {
                    name: "message".into(),
                    data: "{\"a\":\n1}".into()
                },
            ]
        );
    }

    #[test]
    fn parse_all_dispatches_an_unterminated_last_event() {
        let events = Parser::parse_all("event: message\ndata: {}");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "{}");
    }
}
