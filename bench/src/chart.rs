//! The SVG chart of headline comparisons: one horizontal bar chart per
//! headline, two per row.
//!
//! plotters is built with its SVG backend only and without a font engine:
//! text is written as SVG `<text>` elements (the viewer renders them) and
//! laid out with plotters' built-in size estimate, so no system fonts are
//! needed to produce the file.

use plotters::coord::ranged1d::{AsRangedCoord, SegmentValue, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::contenders::{ContenderInfo, Family, LockKind};
use crate::harness::Headline;

const WIDTH: u32 = 1280;
const PANEL_HEADER: u32 = 90;
const BAR_HEIGHT: u32 = 30;
const TITLE_HEIGHT: u32 = 60;

fn colour(c: &ContenderInfo) -> RGBColor {
    if c.biased {
        // rwlocker's reader-biased locks: a cyan beside the plain locks' blue.
        return RGBColor(23, 190, 207);
    }
    match (c.family, c.kind) {
        (Family::Rwlocker, LockKind::RwLock) => RGBColor(31, 119, 180),
        (Family::Rwlocker, LockKind::Mutex) => RGBColor(118, 172, 214),
        (Family::Std, LockKind::RwLock) => RGBColor(110, 110, 110),
        (Family::Std, LockKind::Mutex) => RGBColor(175, 175, 175),
        (Family::ParkingLot, LockKind::RwLock) => RGBColor(230, 120, 20),
        (Family::ParkingLot, LockKind::Mutex) => RGBColor(245, 180, 110),
        (Family::ParkingLot013, LockKind::RwLock) => RGBColor(214, 39, 40),
        (Family::ParkingLot013, LockKind::Mutex) => RGBColor(240, 150, 150),
        (Family::Tokio, LockKind::RwLock) => RGBColor(44, 160, 44),
        (Family::Tokio, LockKind::Mutex) => RGBColor(150, 210, 140),
        (Family::AsyncLock, LockKind::RwLock) => RGBColor(148, 103, 189),
        (Family::AsyncLock, LockKind::Mutex) => RGBColor(197, 176, 213),
    }
}

/// Renders the headlines as an SVG document.
pub fn render(title: &str, subtitle: &str, headlines: &[Headline]) -> Result<String, String> {
    let mut svg = String::new();
    let most_bars = headlines.iter().map(|h| h.bars.len()).max().unwrap_or(0) as u32;
    let panel_h = PANEL_HEADER + BAR_HEIGHT * most_bars.max(1);
    let rows = (headlines.len() as u32).div_ceil(2).max(1);
    let height = TITLE_HEIGHT + rows * panel_h;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, body) = root.split_vertically(TITLE_HEIGHT);
        top.draw(&Text::new(title.to_string(), (16, 10), ("sans-serif", 22).into_font().color(&BLACK)))
            .map_err(|e| e.to_string())?;
        top.draw(&Text::new(
            subtitle.to_string(),
            (16, 38),
            ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(|e| e.to_string())?;
        if headlines.is_empty() {
            body.draw(&Text::new("no headline charts in this run", (16, 20), ("sans-serif", 16).into_font()))
                .map_err(|e| e.to_string())?;
        }
        let panels = body.split_evenly((rows as usize, 2));
        for (panel, h) in panels.iter().zip(headlines) {
            draw_panel(panel, h).map_err(|e| format!("chart {:?}: {e}", h.title))?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, h: &Headline) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let finite = || h.bars.iter().map(|b| b.1).filter(|v| v.is_finite());
    let max = finite().fold(0.0f64, f64::max);
    if h.log {
        let min_pos = finite().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        if min_pos.is_finite() {
            let lo = 10f64.powf(min_pos.log10().floor());
            let hi = 10f64.powf((max * 1.5).log10().ceil()).max(lo * 10.0);
            return draw_bars(area, h, (lo..hi).log_scale(), lo);
        }
    }
    let x_max = if max > 0.0 { max * 1.25 } else { 1.0 };
    draw_bars(area, h, 0f64..x_max, 0.0)
}

/// A tick label without float noise: `250000`, `25`, `2.5`, `0.25`.
fn tick(v: &f64) -> String {
    if v.abs() >= 10.0 || *v == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw_bars<DB, X>(area: &DrawingArea<DB, plotters::coord::Shift>, h: &Headline, x: X, base: f64) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let n = h.bars.len();
    // The first contender on top: bar i sits in segment n-1-i.
    let slot = |i: usize| n - 1 - i;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(s) if *s < n => h.bars[n - 1 - *s].0.name.to_string(),
        _ => String::new(),
    };
    let used_h = PANEL_HEADER + BAR_HEIGHT * n as u32;
    let (area, _) = area.split_vertically(used_h.min(area.dim_in_pixel().1));
    let mut chart = ChartBuilder::on(&area)
        .caption(&h.title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(200)
        .build_cartesian_2d(x, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(n)
        .y_label_formatter(&label)
        .x_labels(6)
        .x_label_formatter(&tick)
        .x_desc(h.axis.as_str())
        .axis_desc_style(("sans-serif", 12))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(|e| e.to_string())?;
    let shown = |v: f64| if v.is_finite() && v > base { v } else { base };
    chart
        .draw_series(h.bars.iter().enumerate().map(|(i, (c, v))| {
            let mut r = Rectangle::new(
                [(base, SegmentValue::Exact(slot(i))), (shown(*v), SegmentValue::Exact(slot(i) + 1))],
                colour(c).filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        }))
        .map_err(|e| e.to_string())?;
    let value_style = ("sans-serif", 12).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    chart
        .draw_series(h.bars.iter().enumerate().map(|(i, (_, v))| {
            let text = if !v.is_finite() {
                " -".to_string()
            } else if v.abs() >= 100.0 {
                format!(" {v:.0}")
            } else {
                format!(" {v:.2}")
            };
            Text::new(text, (shown(*v), SegmentValue::CenterOf(slot(i))), value_style.clone())
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}
