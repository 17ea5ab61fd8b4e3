//! Spatial predicates through the DE-9IM matrix (`geo`'s `Relate`), with
//! Shapely's names and argument order: `a.within(b)` is true when `a` lies
//! inside `b`.

use geo::{Contains, Geometry, Intersects, Relate};

use crate::SpatialError;

/// A named predicate, or a DE-9IM pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Predicate {
    /// Share at least one point.
    Intersects,
    /// `a` lies in `b`, not only on its boundary.
    Within,
    /// `b` lies in `a`, not only on its boundary.
    Contains,
    /// Boundaries meet, interiors do not.
    Touches,
    /// Interiors meet in a lower dimension.
    Crosses,
    /// Interiors meet in the same dimension, neither contains the other.
    Overlaps,
    /// No point in common.
    Disjoint,
    /// Topologically equal.
    Equals,
    /// No point of `b` outside `a`.
    Covers,
    /// No point of `a` outside `b`.
    CoveredBy,
    /// The matrix matches a 9-character pattern of `T F * 0 1 2`.
    Relate(String),
}

/// Every named predicate, as the API spells them.
pub const NAMES: &[&str] = &[
    "intersects",
    "within",
    "contains",
    "touches",
    "crosses",
    "overlaps",
    "disjoint",
    "equals",
    "covers",
    "covered_by",
    "relate",
];

impl Predicate {
    /// The predicate `name` (`relate` with `pattern`).
    pub fn parse(name: &str, pattern: Option<&str>) -> Result<Self, SpatialError> {
        Ok(match name {
            "intersects" => Self::Intersects,
            "within" => Self::Within,
            "contains" => Self::Contains,
            "touches" => Self::Touches,
            "crosses" => Self::Crosses,
            "overlaps" => Self::Overlaps,
            "disjoint" => Self::Disjoint,
            "equals" => Self::Equals,
            "covers" => Self::Covers,
            "covered_by" | "coveredby" => Self::CoveredBy,
            "relate" => {
                let pattern = pattern.ok_or_else(|| {
                    SpatialError::Invalid(
                        "predicate relate needs \"pattern\": 9 characters of T F * 0 1 2, e.g. \"T*F**F***\""
                            .into(),
                    )
                })?;
                if pattern.len() != 9
                    || !pattern
                        .chars()
                        .all(|c| matches!(c, 'T' | 'F' | '*' | '0' | '1' | '2'))
                {
                    return Err(SpatialError::Invalid(format!(
                        "pattern '{pattern}' is not a DE-9IM pattern: 9 characters of T F * 0 1 2"
                    )));
                }
                Self::Relate(pattern.to_owned())
            }
            other => {
                return Err(SpatialError::Invalid(format!(
                    "unknown predicate '{other}'; use one of {}",
                    NAMES.join(", ")
                )));
            }
        })
    }

    /// Whether `a predicate b` holds.
    pub fn holds(&self, a: &Geometry, b: &Geometry) -> bool {
        // Cheaper exact tests where they give the matrix's answer: any
        // intersection test, and a point against anything.
        match (self, a, b) {
            (Self::Intersects, _, _) => return a.intersects(b),
            (Self::Disjoint, _, _) => return !a.intersects(b),
            (Self::Contains, _, Geometry::Point(p)) => return a.contains(p),
            (Self::Within, Geometry::Point(p), _) => return b.contains(p),
            (Self::Covers, _, Geometry::Point(p)) => return a.intersects(p),
            (Self::CoveredBy, Geometry::Point(p), _) => return b.intersects(p),
            _ => {}
        }
        let matrix = a.relate(b);
        match self {
            Self::Intersects => matrix.is_intersects(),
            Self::Within => matrix.is_within(),
            Self::Contains => matrix.is_contains(),
            Self::Touches => matrix.is_touches(),
            Self::Crosses => matrix.is_crosses(),
            Self::Overlaps => matrix.is_overlaps(),
            Self::Disjoint => matrix.is_disjoint(),
            Self::Equals => matrix.is_equal_topo(),
            Self::Covers => matrix.is_covers(),
            Self::CoveredBy => matrix.is_coveredby(),
            // Checked in `parse`.
            Self::Relate(pattern) => matrix.matches(pattern).unwrap_or(false),
        }
    }

    /// Whether the predicate can only hold where the geometries' bounding
    /// boxes meet, so that an index may prune.
    pub fn needs_contact(&self) -> bool {
        match self {
            Self::Disjoint => false,
            // Some interior/boundary cell must be non-empty.
            Self::Relate(pattern) => pattern
                .chars()
                .enumerate()
                .any(|(i, c)| matches!(i, 0 | 1 | 3 | 4) && c != '*' && c != 'F'),
            _ => true,
        }
    }
}

/// The DE-9IM matrix of `a` against `b`, as a 9-character string.
pub fn matrix(a: &Geometry, b: &Geometry) -> String {
    use geo::coordinate_position::CoordPos;
    use geo::dimensions::Dimensions;
    let m = a.relate(b);
    let positions = [CoordPos::Inside, CoordPos::OnBoundary, CoordPos::Outside];
    let mut out = String::with_capacity(9);
    for p in positions {
        for q in positions {
            out.push(match m.get(p, q) {
                Dimensions::Empty => 'F',
                Dimensions::ZeroDimensional => '0',
                Dimensions::OneDimensional => '1',
                Dimensions::TwoDimensional => '2',
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wkt::TryFromWkt;

    fn g(text: &str) -> Geometry {
        Geometry::try_from_wkt_str(text).expect("valid test input")
    }

    #[test]
    fn argument_order_is_shapelys() {
        let small = g("POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))");
        let big = g("POLYGON ((0 0, 5 0, 5 5, 0 5, 0 0))");
        assert!(Predicate::Within.holds(&small, &big));
        assert!(!Predicate::Within.holds(&big, &small));
        assert!(Predicate::Contains.holds(&big, &small));
        assert_eq!(matrix(&small, &big), "2FF1FF212");
        let relate = Predicate::parse("relate", Some("T*F**F***")).expect("valid test input");
        assert!(relate.holds(&small, &big) && relate.needs_contact());
        assert!(!Predicate::Disjoint.needs_contact());
        assert!(Predicate::parse("relate", Some("T*F")).is_err());
        assert!(Predicate::parse("near", None).is_err());
    }
}
