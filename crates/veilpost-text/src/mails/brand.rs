//! How the organisation looks and is reached, on every notification and portal page: its
//! house colour, phone number, website and logo (`[organisation]` in the configuration).
//! Values that end up in HTML or CSS are checked here, so a typo in the configuration can
//! never become markup.

/// The organisation's branding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    /// `#RRGGBB`; anything else reads as the default.
    pub colour: String,
    /// A phone number people may call about a message (shown as written).
    pub phone: Option<String>,
    /// The organisation's website.
    pub website: Option<String>,
    /// The logo: PNG or JPEG bytes and their content type.
    pub logo: Option<(Vec<u8>, &'static str)>,
}

/// Veilpost's own blue, when the organisation names none.
pub const DEFAULT_COLOUR: &str = "#1a4f8b";

/// Largest logo accepted (bytes): it travels in every notification.
pub const MAX_LOGO: usize = 200 * 1024;

/// Why a logo is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoError {
    #[error("the logo is larger than {MAX_LOGO} bytes")]
    TooLarge,
    #[error("the logo is not a PNG or JPEG file")]
    NotAnImage,
}

/// The content type of a logo file, by its first bytes (PNG or JPEG only: what mail
/// clients show inline).
pub fn logo_type(bytes: &[u8]) -> Result<&'static str, LogoError> {
    if bytes.len() > MAX_LOGO {
        return Err(LogoError::TooLarge);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Ok("image/jpeg")
    } else {
        Err(LogoError::NotAnImage)
    }
}

/// Is `colour` a `#RRGGBB` colour?
pub fn is_colour(colour: &str) -> bool {
    colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Brand {
    /// The house colour, `#RRGGBB` for certain.
    pub fn colour(&self) -> &str {
        if is_colour(&self.colour) {
            &self.colour
        } else {
            DEFAULT_COLOUR
        }
    }

    /// Black or white, whichever has the higher contrast on the house colour (WCAG
    /// relative luminance).
    pub fn on_colour(&self) -> &'static str {
        let c = self.colour();
        let channel = |i: usize| {
            let v = f64::from(u8::from_str_radix(&c[i..i + 2], 16).unwrap_or(0)) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        // Contrast with white (1.05 / (l + 0.05)) against with black ((l + 0.05) / 0.05).
        if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
            "#ffffff"
        } else {
            "#000000"
        }
    }

    /// The stylesheet every portal page loads after its own: the house colour on the
    /// header band, buttons and links, and the logo beside the organisation's name.
    pub fn stylesheet(&self) -> String {
        let (c, on) = (self.colour(), self.on_colour());
        let logo = if self.logo.is_some() {
            "header .org::before { content: \"\"; display: inline-block; width: 2.5rem; height: 2.5rem; \
             margin-right: .6rem; vertical-align: middle; background: url(/brand/logo) no-repeat center / contain; }\n"
        } else {
            ""
        };
        format!(
            "header {{ border-top: .4rem solid {c}; padding-top: .4rem; }}\n\
             button, .button {{ background: {c}; color: {on}; }}\n\
             button.secondary, .button.secondary {{ background: #fff; color: {c}; border-color: {c}; }}\n\
             {logo}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_logos_are_checked() {
        let mut b = Brand::default();
        assert_eq!(b.colour(), DEFAULT_COLOUR);
        assert_eq!(b.on_colour(), "#ffffff");
        b.colour = "#FFD700".into();
        assert_eq!((b.colour(), b.on_colour()), ("#FFD700", "#000000"));
        for bad in ["red", "#12345", "#1234567", "#12345g", "#123456;}", ""] {
            b.colour = bad.into();
            assert_eq!(b.colour(), DEFAULT_COLOUR, "{bad}");
        }
        assert_eq!(logo_type(b"\x89PNG\r\n\x1a\nrest"), Ok("image/png"));
        assert_eq!(logo_type(&[0xff, 0xd8, 0xff, 0xe0]), Ok("image/jpeg"));
        assert_eq!(
            logo_type(b"<svg onload=alert(1)>"),
            Err(LogoError::NotAnImage)
        );
        assert_eq!(
            logo_type(&vec![0x89; MAX_LOGO + 1]),
            Err(LogoError::TooLarge)
        );
        b.colour = "#0b6e4f".into();
        assert!(
            b.stylesheet()
                .contains("background: #0b6e4f; color: #ffffff")
        );
        assert!(!b.stylesheet().contains("/brand/logo"));
        b.logo = Some((b"\x89PNG\r\n\x1a\n".to_vec(), "image/png"));
        assert!(b.stylesheet().contains("url(/brand/logo)"));
    }
}
