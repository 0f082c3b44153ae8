//! `smppd hash-password`: the Argon2id hash of a password, for `[smpp-user-NAME]
//! password-hash`. At a terminal the password is asked for twice without echo; otherwise one
//! line is read from stdin, so that scripts can pipe it in without it reaching `ps` or the
//! shell's history. Only the PHC string goes to stdout.

use std::io::{BufRead, IsTerminal, Read};
use std::process::ExitCode;

use clap::Args;
use smppd::password::PasswordHash;
use smppd::secret::Secret;

/// The longest password read from stdin, in bytes: far beyond any SMPP password (8 octets on
/// the wire), short enough that a wrong redirection (a log file, `/dev/zero`) is refused.
const MAX_PASSWORD: usize = 1024;

/// `smppd hash-password`.
#[derive(Debug, Args)]
pub struct HashPasswordArgs {}

/// Why no hash was printed.
#[derive(Debug, thiserror::Error)]
enum HashPasswordError {
    #[error("cannot read the password: {0}")]
    Read(std::io::Error),
    #[error("the two passwords differ")]
    Mismatch,
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {MAX_PASSWORD} bytes")]
    TooLong,
    #[error("the password is not UTF-8 text")]
    NotUtf8,
    #[error("{0}")]
    Hash(smppd::password::PasswordHashError),
}

/// Reads the password, prints its hash; exits 1 with the reason on stderr otherwise.
pub fn run(_args: HashPasswordArgs) -> ExitCode {
    match read_password()
        .and_then(|password| PasswordHash::hash(&password).map_err(HashPasswordError::Hash))
    {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smppd hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_password() -> Result<Secret, HashPasswordError> {
    let password = if std::io::stdin().is_terminal() {
        // rpassword writes its prompts to the terminal itself, not to stdout.
        let first = rpassword::prompt_password("Password: ").map_err(HashPasswordError::Read)?;
        let second =
            rpassword::prompt_password("Password again: ").map_err(HashPasswordError::Read)?;
        if first != second {
            return Err(HashPasswordError::Mismatch);
        }
        Secret::new(first)
    } else {
        read_line(&mut std::io::stdin().lock())?
    };
    if password.expose().len() > MAX_PASSWORD {
        return Err(HashPasswordError::TooLong);
    }
    if password.is_empty() {
        return Err(HashPasswordError::Empty);
    }
    Ok(password)
}

/// The first line of `input` without its line ending, reading at most what a password of
/// [`MAX_PASSWORD`] bytes and a `\r\n` take.
fn read_line(input: &mut impl BufRead) -> Result<Secret, HashPasswordError> {
    let mut line = Vec::new();
    input
        .take(MAX_PASSWORD as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(HashPasswordError::Read)?;
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(&line);
    if line.len() > MAX_PASSWORD {
        return Err(HashPasswordError::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| HashPasswordError::NotUtf8)?;
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(input: &[u8]) -> Result<String, HashPasswordError> {
        read_line(&mut &input[..]).map(|s| s.expose().to_string())
    }

    #[test]
    fn one_line_without_its_ending() {
        assert_eq!(line(b"s3cret\n").unwrap(), "s3cret");
        assert_eq!(line(b"s3cret\r\nsecond line\n").unwrap(), "s3cret");
        assert_eq!(line(b"s3cret").unwrap(), "s3cret");
        assert_eq!(line(b" spaced \n").unwrap(), " spaced ");
        assert_eq!(line(b"\n").unwrap(), "");
    }

    #[test]
    fn long_or_binary_input_is_refused() {
        let longest = vec![b'x'; MAX_PASSWORD];
        assert_eq!(line(&longest).unwrap().len(), MAX_PASSWORD);
        let mut with_ending = longest.clone();
        with_ending.extend_from_slice(b"\r\n");
        assert_eq!(line(&with_ending).unwrap().len(), MAX_PASSWORD);
        let too_long = vec![b'x'; MAX_PASSWORD + 1];
        assert!(matches!(line(&too_long), Err(HashPasswordError::TooLong)));
        assert!(matches!(
            line(&[0xff, 0xfe, b'\n']),
            Err(HashPasswordError::NotUtf8)
        ));
    }
}
