//! The sixteen DTMF digits.

/// One DTMF digit: `0`-`9`, `*`, `#`, `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DtmfDigit {
    D0,
    D1,
    D2,
    D3,
    D4,
    D5,
    D6,
    D7,
    D8,
    D9,
    Star,
    Pound,
    A,
    B,
    C,
    D,
}

const ALL: [DtmfDigit; 16] = [
    DtmfDigit::D0,
    DtmfDigit::D1,
    DtmfDigit::D2,
    DtmfDigit::D3,
    DtmfDigit::D4,
    DtmfDigit::D5,
    DtmfDigit::D6,
    DtmfDigit::D7,
    DtmfDigit::D8,
    DtmfDigit::D9,
    DtmfDigit::Star,
    DtmfDigit::Pound,
    DtmfDigit::A,
    DtmfDigit::B,
    DtmfDigit::C,
    DtmfDigit::D,
];

impl DtmfDigit {
    /// All sixteen digits in RFC 4733 event-code order (0-9, *, #, A-D).
    pub const ALL: [DtmfDigit; 16] = ALL;

    /// The RFC 4733 event code (0-15) of this digit.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an RFC 4733 event code; `None` for codes above 15 (flash, tones, ...).
    pub fn from_event_code(code: u8) -> Option<Self> {
        ALL.get(usize::from(code)).copied()
    }

    /// The character a user types for this digit (`'0'`-`'9'`, `'*'`, `'#'`, `'A'`-`'D'`).
    pub fn to_char(self) -> char {
        b"0123456789*#ABCD"[self as usize] as char
    }

    /// Parses a typed digit; lower-case `a`-`d` are accepted.
    pub fn from_char(c: char) -> Option<Self> {
        let upper = c.to_ascii_uppercase();
        ALL.iter().copied().find(|d| d.to_char() == upper)
    }

    /// The (low, high) tone pair in Hz, as in ITU-T Q.23.
    pub fn frequencies_hz(self) -> (f32, f32) {
        const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
        const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
        let (row, col) = match self {
            DtmfDigit::D1 => (0, 0),
            DtmfDigit::D2 => (0, 1),
            DtmfDigit::D3 => (0, 2),
            DtmfDigit::A => (0, 3),
            DtmfDigit::D4 => (1, 0),
            DtmfDigit::D5 => (1, 1),
            DtmfDigit::D6 => (1, 2),
            DtmfDigit::B => (1, 3),
            DtmfDigit::D7 => (2, 0),
            DtmfDigit::D8 => (2, 1),
            DtmfDigit::D9 => (2, 2),
            DtmfDigit::C => (2, 3),
            DtmfDigit::Star => (3, 0),
            DtmfDigit::D0 => (3, 1),
            DtmfDigit::Pound => (3, 2),
            DtmfDigit::D => (3, 3),
        };
        (LOW[row], HIGH[col])
    }
}

impl std::fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_and_chars_round_trip() {
        for (code, digit) in DtmfDigit::ALL.iter().enumerate() {
            let code = u8::try_from(code).expect("16 digits fit in u8");
            assert_eq!(DtmfDigit::from_event_code(code), Some(*digit));
            assert_eq!(digit.event_code(), code);
            assert_eq!(DtmfDigit::from_char(digit.to_char()), Some(*digit));
        }
        assert_eq!(DtmfDigit::from_event_code(16), None);
        assert_eq!(DtmfDigit::from_char('x'), None);
        assert_eq!(DtmfDigit::from_char('b'), Some(DtmfDigit::B));
    }
}
