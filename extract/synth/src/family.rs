//! The task families and the class table (class index, family, sense, readable name).
//!
//! # Class order
//! Classes follow the canonical family order `translate, rotate, approach, event_order, control`,
//! restricted to the selected families. Each paired family contributes two classes, sense 0 (the base
//! clip) then sense 1 (its exact time reversal); `control` contributes four classes, one per shape
//! (disc, square, triangle, cross). With all families: 0-1 translate, 2-3 rotate, 4-5 approach,
//! 6-7 event_order, 8-11 control.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::Error;
use crate::shape::ShapeKind;

/// A task family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A disc crossing the frame; sense 0 moves left to right.
    Translate,
    /// A chiral three-bladed fan turning about the frame centre; sense 0 turns clockwise.
    Rotate,
    /// A shape growing (approaching); sense 1 is the same clip reversed (receding).
    Approach,
    /// Two per-frame distinguishable flashes (disc on the left, square on the right) in either order.
    EventOrder,
    /// Spatial control task: one of four shapes moving in any direction; the label is the shape.
    Control,
}

impl Family {
    /// All families, in canonical (class) order.
    pub const ALL: [Family; 5] = [Self::Translate, Self::Rotate, Self::Approach, Self::EventOrder, Self::Control];

    /// The name used on the command line, in `families.json` and in file paths.
    pub fn name(self) -> &'static str {
        match self {
            Self::Translate => "translate",
            Self::Rotate => "rotate",
            Self::Approach => "approach",
            Self::EventOrder => "event_order",
            Self::Control => "control",
        }
    }

    /// Whether the family's classes are a base clip and its time reversal.
    pub fn is_paired(self) -> bool {
        self != Self::Control
    }

    /// Stable numeric id, used to derive per-family random streams.
    pub(crate) fn id(self) -> u64 {
        Self::ALL.iter().position(|&f| f == self).unwrap_or(0) as u64
    }

    /// Readable class names of this family, in class order.
    fn class_names(self) -> Vec<String> {
        let names: &[&str] = match self {
            Self::Translate => &["ring moving left to right", "ring moving right to left"],
            Self::Rotate => &["fan turning clockwise", "fan turning counter-clockwise"],
            Self::Approach => &["shape approaching (growing)", "shape receding (shrinking)"],
            Self::EventOrder => &[
                "disc flashes on the left, then square on the right",
                "square flashes on the right, then disc on the left",
            ],
            Self::Control => {
                return ShapeKind::CONTROL.iter().map(|s| format!("{} moving in any direction", s.name())).collect()
            }
        };
        names.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|f| f.name() == key || (key == "recede" && *f == Self::Approach))
            .ok_or_else(|| Error::UnknownFamily(s.to_owned()))
    }
}

/// One class of the benchmark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassInfo {
    /// Class index (the label in the manifests; line number in `classes.txt`).
    pub index: usize,
    /// The family the class belongs to.
    pub family: Family,
    /// 0 for the base clip, 1 for its reversal; `None` for the control task.
    pub sense: Option<u8>,
    /// Readable name, e.g. "ring moving left to right".
    pub name: String,
    /// For the control task: which shape (index into [`ShapeKind::CONTROL`]); 0 for paired families.
    #[serde(skip)]
    pub variant: usize,
}

/// The class table for the selected families (duplicates ignored), in canonical order.
pub fn class_table(families: &[Family]) -> Vec<ClassInfo> {
    let mut classes = Vec::new();
    for family in Family::ALL.into_iter().filter(|f| families.contains(f)) {
        for (k, name) in family.class_names().into_iter().enumerate() {
            let (sense, variant) = if family.is_paired() { (Some(k as u8), 0) } else { (None, k) };
            classes.push(ClassInfo { index: classes.len(), family, sense, name, variant });
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_has_documented_order() {
        let table = class_table(&Family::ALL);
        assert_eq!(table.len(), 12);
        assert_eq!(table[0].name, "ring moving left to right");
        assert_eq!(table[3].name, "fan turning counter-clockwise");
        assert_eq!((table[7].family, table[7].sense), (Family::EventOrder, Some(1)));
        assert_eq!((table[10].family, table[10].sense, table[10].variant), (Family::Control, None, 2));
        assert!(table.iter().enumerate().all(|(i, c)| c.index == i));
    }

    #[test]
    fn subset_keeps_canonical_order() {
        let table = class_table(&[Family::Control, Family::Rotate]);
        assert_eq!(table.len(), 6);
        assert_eq!(table[0].family, Family::Rotate);
        assert_eq!(table[2].name, "disc moving in any direction");
    }

    #[test]
    fn parses_names() {
        assert_eq!("event-order".parse::<Family>().unwrap(), Family::EventOrder);
        assert_eq!(" Translate".parse::<Family>().unwrap(), Family::Translate);
        assert!(matches!("spin".parse::<Family>(), Err(Error::UnknownFamily(s)) if s == "spin"));
    }
}
